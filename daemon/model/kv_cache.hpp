// One sequence's KV cache for generation: the keys and values of every decoder layer for each
// position decoded so far (self-attention), and for encoder-decoder models the cross-attention
// keys and values over its source, computed once. Sized once for the whole generation
// (prompt + max_new_tokens), so a step appends in place and no cache is ever copied. Beam search
// (model/generator_beam.cpp) forks a beam by copying only the parent's stored rows into a spare
// cache (copy_from), and its beams share one cross-attention block (share_cross).
// Attention reads it through the ABI 1.1 per-sequence fields (k_seqs / v_seqs,
// sdk/include/qkv/abi.h): self-attention rows are the model's key/value width (smaller than
// d_model under grouped-query attention), cross-attention rows d_model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace qkv::model {

class SequenceCache {
 public:
  // `kv_width`: one self-attention key (or value) row; `cross_width`: one cross row (0: the same).
  SequenceCache(uint32_t layers, uint32_t kv_width, uint32_t capacity, uint32_t cross_width = 0);

  uint32_t capacity() const { return capacity_; }
  uint32_t length() const { return length_; }  // positions stored
  void advance(uint32_t n) { length_ += n; }

  // [capacity, kv_width] rows of layer `layer`.
  float* keys(uint32_t layer) { return self_.data() + (2 * size_t(layer)) * capacity_ * d_; }
  float* values(uint32_t layer) { return keys(layer) + size_t(capacity_) * d_; }

  // Cross-attention keys/values over a source of `tokens` rows ([tokens, cross_width] per layer).
  void reserve_cross(uint32_t tokens);
  uint32_t cross_length() const { return cross_len_; }
  float* cross_keys(uint32_t layer) {
    return cross_->data() + (2 * size_t(layer)) * cross_len_ * cross_d_;
  }
  float* cross_values(uint32_t layer) { return cross_keys(layer) + size_t(cross_len_) * cross_d_; }
  // Reads `from`'s cross-attention block (the same source) without copying it.
  void share_cross(const SequenceCache& from);

  // Becomes a copy of `from`'s stored self-attention rows (same shape): a beam forked from it.
  void copy_from(const SequenceCache& from);

  // Cache tokens held (what generate.max_cache_tokens counts).
  uint64_t tokens() const { return uint64_t(capacity_) + cross_len_; }

 private:
  uint32_t layers_, d_, cross_d_, capacity_, length_ = 0, cross_len_ = 0;
  std::vector<float> self_;
  std::shared_ptr<std::vector<float>> cross_;
};

}  // namespace qkv::model
