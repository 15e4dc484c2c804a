// The generation contract between a pipeline run (pipeline/generate_documents.cpp) and the model
// runtime (daemon/model/generator.cpp), beside ModelStage (pipeline/model_stage.hpp): a stateful
// Generator owns the live sequences and their KV caches; the run owns admission, stop strings,
// detokenizing and output order.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace qkv::pipeline {

struct GeneratedToken {
  uint64_t doc = 0;         // the document's index in the whole job
  int32_t id = 0;           // the chosen token
  float logprob = 0.0f;     // natural log of its probability under the raw logits
  bool cache_full = false;  // inputs + this token fill the cache (the position table or
                            // max_new_tokens): the sequence cannot continue
};

// One job's generation state. Not thread-safe: one job drives it from one thread; step() runs
// its math on the caller's oneTBB arena.
class Generator {
 public:
  virtual ~Generator() = default;
  // KV-cache tokens a sequence with this prompt takes until it is released (what admission
  // counts against generate.max_cache_tokens).
  virtual uint64_t cache_tokens(size_t prompt_tokens) const = 0;
  // Adds a live sequence for document `doc`: its prompt (decoder) or source (encoder-decoder)
  // ids. The prompt is prefilled by the next step(). Throws std::exception for ids outside the
  // vocabulary or an empty decoder prompt.
  virtual void add(uint64_t doc, std::span<const int32_t> prompt) = 0;
  // One forward pass over every live sequence (new prompts prefilled, the others one token):
  // the next token of each, in the order the sequences were added.
  virtual std::vector<GeneratedToken> step() = 0;
  // Frees a sequence's cache (finished, or failed).
  virtual void release(uint64_t doc) = 0;
  // Whether prompts are sources of an encoder-decoder model (not continued, but conditioned on).
  virtual bool encoder_decoder() const = 0;
  // The ids that end a sequence (the model's eos ids); the run never writes them.
  virtual std::span<const int32_t> eos_ids() const = 0;
};

}  // namespace qkv::pipeline
