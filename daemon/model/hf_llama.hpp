// HF Llama-layout checkpoints (model_type llama, qwen2, mistral) onto the runtime's weights.
#pragma once

#include "model/weights.hpp"

namespace qkv::model {

// Tensor names of modeling_llama.py's LlamaForCausalLM (`model.` prefix, lm_head.weight) or
// LlamaModel (no prefix); Qwen2 and Mistral use the same names.
void load_hf_llama(const ModelConfig& config, const SafetensorsFile& file, ModelWeights& out);

}  // namespace qkv::model
