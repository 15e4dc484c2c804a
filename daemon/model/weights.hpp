// The model's parameters in the runtime's own layout: every projection is [in, out] row-major
// (so y = x * W + b is one plain GEMM) and Q, K, V of self-attention are fused to [d, 3d].
// Loaders map the checkpoint names of each model_type onto it (docs/model.md lists them).
#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "model/config.hpp"

namespace qkv::model {

class SafetensorsFile;

struct Linear {
  uint32_t in = 0, out = 0;
  std::vector<float> w;  // [in, out]
  std::vector<float> b;  // [out] or empty
};

struct Norm {
  std::vector<float> gamma;
  std::vector<float> beta;  // empty for RMSNorm
};

struct LayerWeights {
  Norm self_norm;
  Linear qkv;  // [d, 3d]: q | k | v
  Linear self_out;
  bool cross = false;
  Norm cross_norm;
  Linear cross_q;   // [d, d]
  Linear cross_kv;  // [d, 2d]: k | v
  Linear cross_out;
  Norm ffn_norm;
  Linear ffn_up, ffn_down;  // Ffn::SwiGlu: ffn_up is [d, 2*ffn], gate | up
  uint32_t window = 0;      // sliding-window self-attention (keys per query), 0: none
};

struct StackWeights {
  std::vector<float> tokens;  // [vocab, d]
  // Checkpoint name of the learned position table ([max_positions, d], shape checked on load),
  // empty without learned positions. The table is not copied here: positional-learned reads it
  // through the host's tensor lookup (daemon/model/plugin_positions.cpp).
  std::string positions_tensor;
  std::vector<float> type0;  // [d]: token type 0 (BERT), empty otherwise
  Norm embed_norm;           // when config.embed_norm
  std::vector<LayerWeights> layers;
  Norm final_norm;  // when config.final_norm
};

struct ModelWeights {
  StackWeights encoder, decoder;
  Linear lm_head;                      // [d, vocab], only for stacks that have a decoder
  std::set<std::string> tensors_read;  // checkpoint names the loader used
};

// Loads DIR/model.safetensors for `config`. Throws ModelError naming the file, the tensor and
// the expected shape for a missing or misshapen tensor.
ModelWeights load_weights(const ModelConfig& config, const SafetensorsFile& file);

// One nn.MultiheadAttention's tensors (PREFIXin_proj_weight, PREFIXin_proj_bias,
// PREFIXout_proj.weight/.bias) as the self-attention part of a layer.
LayerWeights load_attention_module(const SafetensorsFile& file, const std::string& prefix,
                                   uint32_t d);

// Builds the lm_head of a decoder from its tied token embeddings ([vocab, d] -> [d, vocab]).
Linear transpose_to_linear(const std::vector<float>& rows, uint32_t n_rows, uint32_t n_cols);

}  // namespace qkv::model
