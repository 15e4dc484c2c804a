// The model runtime as a pipeline stage (daemon/pipeline/model_stage.hpp is the contract).
#pragma once

#include <memory>

#include "pipeline/model_stage.hpp"

namespace qkv::model {

// Builds the stage from the pipeline's `model:` mapping: path, output (hidden | pooled_cls |
// pooled_mean | logprobs | topk), topk, attention {plugin, config} (default attention-flash),
// positional {plugin, config} (default: the positions the model config names, built in).
std::unique_ptr<ModelStage> make_model_stage(const ModelStageContext& context);

// Installs make_model_stage as the runner's factory (called once from qkvd's main).
void register_model_stage();

}  // namespace qkv::model
