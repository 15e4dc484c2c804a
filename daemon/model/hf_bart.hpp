// HF BART-layout checkpoints (model_type bart) onto the runtime's weights.
#pragma once

#include "model/weights.hpp"

namespace qkv::model {

// Tensor names of modeling_bart.py's BartForConditionalGeneration (`model.` prefix,
// final_logits_bias) or BartModel (no prefix): one shared token table for both stacks and the
// LM head, final_logits_bias ([1, vocab], zeros when absent) as the head's bias.
void load_hf_bart(const ModelConfig& config, const SafetensorsFile& file, ModelWeights& out);

}  // namespace qkv::model
