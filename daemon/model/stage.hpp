// The model runtime as a pipeline stage (daemon/pipeline/model_stage.hpp is the contract).
#pragma once

#include <memory>

#include "pipeline/model_stage.hpp"

namespace qkv::model {

// Builds the stage from the pipeline's validated `model:` section (config/pipeline_config.hpp):
// attention defaults to attention-flash, positions to the positional plugins that compute what
// the model's config.json names (model/plugin_positions.hpp). Throws ModelError (model files,
// an output the model cannot give, a plugin that does not fit) or PluginError.
// qkvd hands it to pipeline runs as RunEnvironment::model_stage_factory.
std::unique_ptr<pipeline::ModelStage> make_model_stage(const pipeline::ModelStageContext& context);

}  // namespace qkv::model
