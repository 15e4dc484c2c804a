// Encoder, decoder and encoder-decoder stacks over packed variable-length batches
// (flat [tokens, d] rows plus cu_seqlens prefix sums; no padding anywhere).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/components.hpp"
#include "model/config.hpp"
#include "model/gemm.hpp"
#include "model/weights.hpp"

namespace qkv::model {

// Deliberately broken variants, for tests only: each invariance test shows that the property
// it checks fails when the matching fault is switched on.
struct Faults {
  bool drop_causal_mask = false;   // decoder self-attention sees the future
  bool force_causal_mask = false;  // encoder self-attention is causal
  bool drop_positions = false;     // no positional information at all
  bool swap_cross_sources =
      false;  // cross-attention queries from the encoder, K/V from the decoder
  bool cross_kv_from_decoder = false;  // cross-attention K/V from the decoder instead of the source
};

struct Packed {
  std::span<const int32_t> ids;
  std::span<const int32_t> cu_seqlens;  // documents + 1, cu[0] == 0, cu.back() == ids.size()
};

// What a forward pass computes attention and positions with (plugins in the daemon,
// daemon/model/plugin_positions.hpp; an independent attention in tests).
struct Components {
  const Attention* attention = nullptr;
  const PositionalEncoding* encoder_positions = nullptr;  // nullptr: none
  const PositionalEncoding* decoder_positions = nullptr;
  Faults faults;
};

// y[rows, out] = x[rows, in] * W + b.
void apply_linear(GemmKernel kernel, const Linear& l, const float* x, size_t rows, size_t x_stride,
                  float* y, size_t y_stride);

// The position-wise feed-forward of one layer: up projection, activation (or SwiGLU's gate),
// down projection into `out` [rows, d_model]. The one definition the full stack and the cached
// decode step (model/generation_step.cpp) share; `ffn` and `gate_up` are reused buffers.
void feed_forward(const ModelConfig& c, const LayerWeights& L, GemmKernel kernel, const float* in,
                  size_t rows, std::vector<float>& ffn, std::vector<float>& gate_up, float* out);

// The rows a stack starts from: token embeddings (x embed_scale, + BERT's type-0 row), then
// absolute positions (a non-rotary `pos`; nullptr: none) and the embedding norm. The one
// definition the full stack and the cached decode step share. Throws ModelError for an id
// outside the vocabulary.
std::vector<float> embed(const ModelConfig& c, const StackWeights& st, std::span<const int32_t> ids,
                         std::span<const int32_t> positions, const PositionalEncoding* pos);

class Transformer {
 public:
  Transformer(ModelConfig config, ModelWeights weights, GemmKernel gemm = default_gemm_kernel());

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  GemmKernel gemm_kernel() const { return gemm_; }

  // Encoder hidden states [tokens, d] (after the final norm when the config has one).
  std::vector<float> encode(Packed src, const Components& b) const;
  // Decoder hidden states [tokens, d]. For encoder-decoder models `memory` holds the encoder's
  // output rows with `memory_cu` (same number of documents as `tgt`).
  std::vector<float> decode(Packed tgt, const Components& b, std::span<const float> memory = {},
                            std::span<const int32_t> memory_cu = {}) const;

  // Self-attention sub-block of a layer (projections, positions, attention, output projection)
  // on rows that are already normalized as the layer requires: out[tokens, d]. `scratch`, when
  // given, holds the projections between calls (run_stack reuses one per stack: a fresh
  // 4 x tokens x d block per layer was a page-fault storm on large batches).
  void self_attention(const LayerWeights& L, const float* x, Packed in,
                      std::span<const int32_t> positions, const PositionalEncoding* pos,
                      bool causal, const Attention& att, float* out,
                      std::vector<float>* scratch = nullptr) const;

 private:
  std::vector<float> run_stack(const StackWeights& st, Packed in, const PositionalEncoding* pos,
                               bool causal, const Components& b, std::span<const float> memory,
                               std::span<const int32_t> memory_cu) const;

  ModelConfig config_;
  ModelWeights weights_;
  GemmKernel gemm_;
};

}  // namespace qkv::model
