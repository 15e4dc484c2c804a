// The model runtime's Generator (pipeline/generator.hpp): live sequences with their KV caches
// (model/kv_cache.hpp), one packed forward per step over all of them
// (model/generation_step.hpp), the next token of each by model/sampling.hpp.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "model/generation_step.hpp"
#include "pipeline/model_stage.hpp"

namespace qkv::model {

struct GenerationIds {
  std::vector<int32_t> eos;    // empty: a sequence ends only by length or stop strings
  int32_t decoder_start = -1;  // encoder-decoder models: the decoder's first input
};

// The model config's eos_token_id(s) and decoder_start_token_id (ModelConfig, read from
// DIR/config.json); the setup's fallbacks (the tokenizer's ids) where it names none. Throws
// ModelError for an encoder-decoder model without a start id.
GenerationIds generation_ids(const ModelConfig& config, const std::filesystem::path& dir,
                             const pipeline::GenerateSetup& setup);

// `model` and the components must outlive the generator. `max_positions` is the decoder's
// position table (0: unbounded).
std::unique_ptr<pipeline::Generator> make_generator(const Transformer& model, Components b,
                                                    uint32_t max_positions,
                                                    const pipeline::GenerateSetup& setup,
                                                    GenerationIds ids, CacheFaults faults = {});

}  // namespace qkv::model
