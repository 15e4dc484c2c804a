// A model's shape and flavour, read from config.json (HF `bert`, `gpt2`, or qkv's own `qkv`;
// fields in docs/model.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "model/kernels.hpp"

namespace qkv::model {

enum class Arch { Encoder, Decoder, EncoderDecoder };
enum class Positions { None, Learned, Sinusoidal, Rotary };

struct ModelConfig {
  std::string model_type;  // bert | gpt2 | qkv
  Arch arch = Arch::Encoder;
  uint32_t vocab_size = 0;
  uint32_t d_model = 0;
  uint32_t heads = 0;
  uint32_t ffn_dim = 0;
  uint32_t encoder_layers = 0;   // Encoder / EncoderDecoder
  uint32_t decoder_layers = 0;   // Decoder / EncoderDecoder
  uint32_t max_positions = 0;    // 0: unbounded
  uint32_t type_vocab_size = 0;  // BERT token types (row 0 is added to every token)
  NormKind norm = NormKind::LayerNorm;
  float norm_eps = 1e-5f;
  bool pre_norm = false;    // x + f(norm(x)) instead of norm(x + f(x))
  bool embed_norm = false;  // a norm right after the embeddings (BERT)
  bool final_norm =
      false;  // a norm after the last layer of each stack (GPT-2 ln_f, nn.Transformer)
  Activation activation = Activation::GeluErf;
  Positions positions = Positions::None;
  double rope_base = 10000.0;
  double sinusoidal_base = 10000.0;
  float embed_scale = 1.0f;  // token embeddings are multiplied by this (e.g. sqrt(d_model))
  bool tie_lm_head = true;

  uint32_t head_dim() const { return heads ? d_model / heads : 0; }
  bool has_encoder() const { return arch != Arch::Decoder; }
  bool has_decoder() const { return arch != Arch::Encoder; }
};

// Reads DIR/config.json; throws ModelError naming the file and the field.
ModelConfig load_config(const std::filesystem::path& dir);
ModelConfig parse_config(const std::string& json_text, const std::string& where);

}  // namespace qkv::model
