// A model's shape and flavour, read from config.json (HF `bert`, `roberta`, `xlm-roberta`, `gpt2`,
// the Llama layout `llama` | `qwen2` | `mistral`, `bart`, `marian`, or qkv's own `qkv`; fields in
// docs/model.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "model/kernels.hpp"

namespace qkv::model {

enum class Arch { Encoder, Decoder, EncoderDecoder };
enum class Positions { None, Learned, Sinusoidal, Rotary };
enum class Ffn { Plain, SwiGlu };  // SwiGlu: down(silu(gate(x)) * up(x)) (Shazeer 2020)

// HF rope_scaling, passed to plugin positional-rope (plugins/positional-rope/rope.hpp).
struct RopeScaling {
  std::string type;  // empty: none | linear | llama3
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  uint32_t original_max_positions = 0;
};

struct ModelConfig {
  std::string model_type;  // bert | roberta | xlm-roberta | gpt2 | llama | qwen2 | mistral | bart |
                           // marian | qkv
  Arch arch = Arch::Encoder;
  uint32_t vocab_size = 0;
  uint32_t d_model = 0;
  uint32_t heads = 0;
  uint32_t kv_heads = 0;   // grouped-query attention; 0: heads
  uint32_t head_size = 0;  // 0: d_model / heads (HF `head_dim` when given)
  uint32_t ffn_dim = 0;
  uint32_t encoder_layers = 0;   // Encoder / EncoderDecoder
  uint32_t decoder_layers = 0;   // Decoder / EncoderDecoder
  uint32_t max_positions = 0;    // 0: unbounded
  uint32_t type_vocab_size = 0;  // BERT token types (row 0 is added to every token)
  // Learned positions: position p reads table row p + position_offset (RoBERTa / XLM-R:
  // padding_idx + 1, modeling_roberta.py create_position_ids_from_input_ids).
  uint32_t position_offset = 0;
  NormKind norm = NormKind::LayerNorm;
  float norm_eps = 1e-5f;
  bool pre_norm = false;    // x + f(norm(x)) instead of norm(x + f(x))
  bool embed_norm = false;  // a norm right after the embeddings (BERT)
  bool final_norm =
      false;  // a norm after the last layer of each stack (GPT-2 ln_f, nn.Transformer)
  Activation activation = Activation::GeluErf;
  Ffn ffn = Ffn::Plain;
  bool attention_bias = true;  // q/k/v biases
  bool attn_out_bias = true;   // o_proj bias
  bool mlp_bias = true;
  // Mistral/Qwen2 sliding window: each query sees this many keys (itself included); 0: none.
  // It applies to layers >= window_from_layer (Qwen2's max_window_layers).
  uint32_t sliding_window = 0;
  uint32_t window_from_layer = 0;
  RopeScaling rope_scaling;
  Positions positions = Positions::None;
  double rope_base = 10000.0;
  double sinusoidal_base = 10000.0;
  bool sinusoidal_half = false;  // positional-sinusoidal layout half (Marian), else interleaved
  float embed_scale = 1.0f;      // token embeddings are multiplied by this (e.g. sqrt(d_model))
  bool tie_lm_head = true;
  uint32_t decoder_start_token_id = 0;  // BART: the first decoder input of teacher forcing
  // Generation, every layout (qkv's own too): config.json `eos_token_id` (an id or a list;
  // empty: none given) and whether `decoder_start_token_id` was given (BART: its default 2).
  std::vector<int32_t> eos_token_ids;
  bool has_decoder_start = false;
  // HF encoder-decoders train on labels: the decoder reads tgt shifted right after
  // decoder_start_token_id and row t predicts tgt[t] (modeling_bart.py shift_tokens_right).
  // qkv's own layout feeds tgt as given.
  bool shift_tgt_right = false;

  uint32_t head_dim() const { return head_size ? head_size : heads ? d_model / heads : 0; }
  uint32_t kv_head_count() const { return kv_heads ? kv_heads : heads; }
  uint32_t q_width() const { return heads * head_dim(); }
  uint32_t kv_width() const { return kv_head_count() * head_dim(); }
  bool has_encoder() const { return arch != Arch::Decoder; }
  bool has_decoder() const { return arch != Arch::Encoder; }
};

// Reads DIR/config.json; throws ModelError naming the file and the field.
ModelConfig load_config(const std::filesystem::path& dir);
ModelConfig parse_config(const std::string& json_text, const std::string& where);

}  // namespace qkv::model
