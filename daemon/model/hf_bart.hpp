// HF BART-layout checkpoints (model_type bart) onto the runtime's weights.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/weights.hpp"

namespace qkv::model {

// Tensor names of modeling_bart.py's BartForConditionalGeneration (`model.` prefix,
// final_logits_bias) or BartModel (no prefix): one shared token table for both stacks and the
// LM head, final_logits_bias ([1, vocab], zeros when absent) as the head's bias.
void load_hf_bart(const ModelConfig& config, const SafetensorsFile& file, ModelWeights& out);

// modeling_bart.py shift_tokens_right on packed documents: each document's decoder input is
// [start, tgt[0], ..., tgt[n-2]] (same length, so output rows still follow the tgt tokens).
std::vector<int32_t> shift_tokens_right(std::span<const int32_t> ids, std::span<const int32_t> cu,
                                        int32_t start);

}  // namespace qkv::model
