// Choosing the next token from a row of logits: greedy, or sampling with the logits processors
// in Hugging Face's order (repetition_penalty, temperature, top_k, top_p), drawn from a
// counter-based RNG keyed by (seed, document index in the job, step), so a document's output
// never depends on threads, batch composition or timing.
#pragma once

#include <cstdint>
#include <span>

namespace qkv::model {

struct SamplingParams {
  bool sample = false;              // false: greedy (argmax, ties to the smaller id)
  double temperature = 1.0;         // 0: greedy
  uint32_t top_k = 0;               // 0: off
  double top_p = 1.0;               // 1: off
  double repetition_penalty = 1.0;  // over `context` (prompt and generated ids)
  uint64_t seed = 0;
};

// Uniform in [0, 1) from (seed, doc, step) alone (SplitMix64 finalizers over the three).
double counter_uniform(uint64_t seed, uint64_t doc, uint64_t step);

// Applies repetition_penalty to `logits` in place (positive logits divided, negative
// multiplied, once per distinct id of `context`).
void apply_repetition_penalty(std::span<float> logits, std::span<const int32_t> context,
                              double penalty);

// The next token. `logits` is modified (penalty applied).
int32_t choose_token(std::span<float> logits, std::span<const int32_t> context,
                     const SamplingParams& p, uint64_t doc, uint64_t step);

// log softmax(logits)[id], in double.
float token_logprob(std::span<const float> logits, int32_t id);

}  // namespace qkv::model
