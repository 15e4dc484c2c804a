#include "model/config.hpp"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/error.hpp"

namespace qkv::model {

namespace {

using nlohmann::json;

struct Reader {
  const json& j;
  const std::string& where;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw ModelError(where + ": field '" + key + "': " + what);
  }
  uint32_t uint(const std::string& key, std::optional<uint32_t> fallback = std::nullopt) const {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      if (fallback) return *fallback;
      fail(key, "required");
    }
    if (!it->is_number_unsigned() || it->get<uint64_t>() > (1u << 30))
      fail(key, "expected a non-negative integer");
    return it->get<uint32_t>();
  }
  double number(const std::string& key, double fallback) const {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_number()) fail(key, "expected a number");
    return it->get<double>();
  }
  bool boolean(const std::string& key, bool fallback) const {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) fail(key, "expected true or false");
    return it->get<bool>();
  }
  std::string string(const std::string& key, const std::string& fallback) const {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_string()) fail(key, "expected a string");
    return it->get<std::string>();
  }
  Activation activation(const std::string& key, const std::string& fallback) const {
    const auto s = string(key, fallback);
    if (s == "relu") return Activation::Relu;
    if (s == "gelu") return Activation::GeluErf;
    if (s == "gelu_new" || s == "gelu_tanh" || s == "gelu_pytorch_tanh")
      return Activation::GeluTanh;
    if (s == "silu" || s == "swish") return Activation::Silu;
    fail(key, "unsupported activation '" + s + "' (relu, gelu, gelu_new, gelu_tanh, silu, swish)");
  }
};

void check(const ModelConfig& c, const Reader& r) {
  if (c.d_model == 0 || c.heads == 0 || (c.head_size == 0 && c.d_model % c.heads != 0))
    r.fail("heads", "d_model (" + std::to_string(c.d_model) +
                        ") must be a positive multiple of the head count (" +
                        std::to_string(c.heads) + ")");
  if (c.kv_heads != 0 && c.heads % c.kv_heads != 0)
    r.fail("num_key_value_heads", "the head count (" + std::to_string(c.heads) +
                                      ") must be a multiple of it, found " +
                                      std::to_string(c.kv_heads));
  if (c.vocab_size == 0) r.fail("vocab_size", "must be positive");
  if (c.positions == Positions::Rotary && c.head_dim() % 2 != 0)
    r.fail("positions", "rotary positions need an even head dimension");
  if (c.positions == Positions::Learned && c.max_positions == 0)
    r.fail("max_positions", "learned positions need the table size");
}

// HF rope_scaling (modeling_rope_utils.py): the type under `rope_type` (newer) or `type`.
RopeScaling rope_scaling(const Reader& r) {
  RopeScaling s;
  auto it = r.j.find("rope_scaling");
  if (it == r.j.end() || it->is_null()) return s;
  if (!it->is_object()) r.fail("rope_scaling", "expected an object or null");
  const Reader sub{*it, r.where};
  auto fail = [&](const std::string& key, const std::string& what) {
    r.fail("rope_scaling." + key, what);
  };
  std::string type = sub.string("rope_type", "");
  const char* type_key = "rope_type";
  if (type.empty()) {
    type = sub.string("type", "");
    type_key = "type";
  }
  if (type.empty() || type == "default") return s;
  if (type != "linear" && type != "llama3")
    fail(type_key, "unsupported rope scaling '" + type + "' (linear, llama3)");
  s.type = type;
  s.factor = sub.number("factor", 0.0);
  if (!(s.factor >= 1.0)) fail("factor", "required, a number >= 1");
  if (type == "llama3") {
    s.low_freq_factor = sub.number("low_freq_factor", 1.0);
    s.high_freq_factor = sub.number("high_freq_factor", 4.0);
    s.original_max_positions = sub.uint("original_max_position_embeddings");
    if (!(s.high_freq_factor > s.low_freq_factor && s.low_freq_factor > 0))
      fail("high_freq_factor", "llama3 needs 0 < low_freq_factor < high_freq_factor");
    if (s.original_max_positions == 0) fail("original_max_position_embeddings", "must be positive");
  }
  return s;
}

// HF LlamaConfig / Qwen2Config / MistralConfig (modeling_llama.py, modeling_qwen2.py,
// modeling_mistral.py): pre-norm RMSNorm decoder, rotary positions, SwiGLU, GQA.
void parse_llama(const Reader& r, ModelConfig& c) {
  c.arch = Arch::Decoder;
  c.vocab_size = r.uint("vocab_size");
  c.d_model = r.uint("hidden_size");
  c.heads = r.uint("num_attention_heads");
  c.kv_heads = r.uint("num_key_value_heads", c.heads);
  c.head_size = r.uint("head_dim", 0);
  c.decoder_layers = r.uint("num_hidden_layers");
  c.ffn_dim = r.uint("intermediate_size");
  c.max_positions = r.uint("max_position_embeddings", 0);
  c.norm = NormKind::RmsNorm;
  c.norm_eps = static_cast<float>(r.number("rms_norm_eps", 1e-6));
  c.pre_norm = true;
  c.final_norm = true;
  const auto act = r.string("hidden_act", "silu");
  if (act != "silu") r.fail("hidden_act", "only 'silu' (SwiGLU) is supported, found '" + act + "'");
  c.ffn = Ffn::SwiGlu;
  c.positions = Positions::Rotary;
  c.rope_base = r.number("rope_theta", 10000.0);
  c.rope_scaling = rope_scaling(r);
  c.tie_lm_head = r.boolean("tie_word_embeddings", false);
  if (c.model_type == "qwen2") {  // Qwen2Attention: q/k/v biases, o_proj none
    c.attention_bias = true;
    c.attn_out_bias = false;
    c.mlp_bias = false;
    if (r.boolean("use_sliding_window", false)) {
      c.sliding_window = r.uint("sliding_window");
      c.window_from_layer = r.uint("max_window_layers", 0);
    }
  } else {
    c.attention_bias = c.attn_out_bias = r.boolean("attention_bias", false);
    c.mlp_bias = r.boolean("mlp_bias", false);
    if (c.model_type == "mistral") c.sliding_window = r.uint("sliding_window", 0);
  }
  if (c.head_size == 0 && c.heads && c.d_model % c.heads != 0)
    r.fail("head_dim", "required when hidden_size (" + std::to_string(c.d_model) +
                           ") is not a multiple of num_attention_heads");
}

// HF BartConfig (modeling_bart.py): post-norm encoder-decoder, learned positions with an offset
// of 2, layernorm_embedding, optional sqrt(d_model) embedding scale.
void parse_bart(const Reader& r, ModelConfig& c) {
  c.arch = Arch::EncoderDecoder;
  c.vocab_size = r.uint("vocab_size");
  c.d_model = r.uint("d_model");
  c.heads = r.uint("encoder_attention_heads");
  if (r.uint("decoder_attention_heads", c.heads) != c.heads)
    r.fail("decoder_attention_heads",
           "must equal encoder_attention_heads (" + std::to_string(c.heads) + ") in qkv");
  c.ffn_dim = r.uint("encoder_ffn_dim");
  if (r.uint("decoder_ffn_dim", c.ffn_dim) != c.ffn_dim)
    r.fail("decoder_ffn_dim",
           "must equal encoder_ffn_dim (" + std::to_string(c.ffn_dim) + ") in qkv");
  c.encoder_layers = r.uint("encoder_layers");
  c.decoder_layers = r.uint("decoder_layers");
  c.max_positions = r.uint("max_position_embeddings") + 2;  // table rows: the offset first
  c.position_offset = 2;                                    // BartLearnedPositionalEmbedding.offset
  c.activation = r.activation("activation_function", "gelu");
  c.norm_eps = 1e-5f;  // nn.LayerNorm's default, which modeling_bart.py uses
  if (r.boolean("normalize_before", false) || r.boolean("add_final_layer_norm", false))
    r.fail("normalize_before", "pre-norm BART variants (mBART) are not supported");
  c.pre_norm = false;
  c.embed_norm = true;  // layernorm_embedding
  c.positions = Positions::Learned;
  c.embed_scale = r.boolean("scale_embedding", false) ? std::sqrt(float(c.d_model)) : 1.0f;
  c.tie_lm_head = r.boolean("tie_word_embeddings", true);
  c.decoder_start_token_id = r.uint("decoder_start_token_id", 2);
  if (c.decoder_start_token_id >= c.vocab_size)
    r.fail("decoder_start_token_id", "must be below vocab_size (" + std::to_string(c.vocab_size) +
                                         "), found " + std::to_string(c.decoder_start_token_id));
  c.shift_tgt_right = true;
}

// eos_token_id / decoder_start_token_id, read alike for every layout (generator.cpp uses them).
void read_generation_ids(const Reader& r, ModelConfig& c) {
  auto in_vocab = [&](const json& v, const char* key) {
    if (!v.is_number_unsigned() || v.get<uint64_t>() >= c.vocab_size)
      r.fail(key, "expected token ids below vocab_size (" + std::to_string(c.vocab_size) + ")");
    return v.get<int32_t>();
  };
  if (auto it = r.j.find("eos_token_id"); it != r.j.end() && !it->is_null()) {
    if (it->is_array())
      for (const auto& v : *it) c.eos_token_ids.push_back(in_vocab(v, "eos_token_id"));
    else
      c.eos_token_ids.push_back(in_vocab(*it, "eos_token_id"));
  }
  if (auto it = r.j.find("decoder_start_token_id"); it != r.j.end() && !it->is_null()) {
    c.decoder_start_token_id = uint32_t(in_vocab(*it, "decoder_start_token_id"));
    c.has_decoder_start = true;
  }
  if (c.model_type == "bart" || c.model_type == "marian")
    c.has_decoder_start = true;  // BartConfig's default; MarianConfig: pad_token_id
}

// HF MarianConfig (modeling_marian.py): BART's post-norm layers without layernorm_embedding,
// MarianSinusoidalPositionalEmbedding (sines in the first half, cosines in the second; no
// offset), decoder_start_token_id = pad_token_id, usually scale_embedding and swish.
void parse_marian(const Reader& r, ModelConfig& c) {
  parse_bart(r, c);
  if (!r.boolean("share_encoder_decoder_embeddings", true))
    r.fail("share_encoder_decoder_embeddings", "separate decoder embeddings are not supported");
  if (r.uint("decoder_vocab_size", c.vocab_size) != c.vocab_size)
    r.fail("decoder_vocab_size", "must equal vocab_size (" + std::to_string(c.vocab_size) + ")");
  c.max_positions = r.uint("max_position_embeddings");
  c.position_offset = 0;
  c.positions = Positions::Sinusoidal;
  c.sinusoidal_half = true;
  c.embed_norm = false;
  c.activation = r.activation("activation_function", "swish");
  c.decoder_start_token_id = r.uint("decoder_start_token_id", r.uint("pad_token_id"));
  if (c.decoder_start_token_id >= c.vocab_size)
    r.fail("decoder_start_token_id", "must be below vocab_size (" + std::to_string(c.vocab_size) +
                                         "), found " + std::to_string(c.decoder_start_token_id));
}

}  // namespace

ModelConfig parse_config(const std::string& text, const std::string& where) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw ModelError(where + ": not a JSON object");
  Reader r{j, where};
  ModelConfig c;
  c.model_type = r.string("model_type", "");
  if (c.model_type == "bert" || c.model_type == "roberta" || c.model_type == "xlm-roberta") {
    const auto pet = r.string("position_embedding_type", "absolute");
    if (pet != "absolute")
      r.fail("position_embedding_type", "only 'absolute' is supported, found '" + pet + "'");
    c.arch = Arch::Encoder;
    c.vocab_size = r.uint("vocab_size");
    c.d_model = r.uint("hidden_size");
    c.heads = r.uint("num_attention_heads");
    c.encoder_layers = r.uint("num_hidden_layers");
    c.ffn_dim = r.uint("intermediate_size");
    c.max_positions = r.uint("max_position_embeddings");
    const bool roberta = c.model_type != "bert";
    c.type_vocab_size = r.uint("type_vocab_size", roberta ? 1 : 2);
    if (roberta) {  // RobertaEmbeddings: positions start after padding_idx
      c.position_offset = r.uint("pad_token_id", 1) + 1;
      if (c.position_offset >= c.max_positions)
        r.fail("max_position_embeddings",
               "must exceed pad_token_id + 1 (" + std::to_string(c.position_offset) + ")");
    }
    c.norm_eps = static_cast<float>(r.number("layer_norm_eps", 1e-12));
    c.activation = r.activation("hidden_act", "gelu");
    c.positions = Positions::Learned;
    c.embed_norm = true;
    c.pre_norm = false;
  } else if (c.model_type == "gpt2") {
    c.arch = Arch::Decoder;
    c.vocab_size = r.uint("vocab_size");
    c.d_model = r.uint("n_embd");
    c.heads = r.uint("n_head");
    c.decoder_layers = r.uint("n_layer");
    c.ffn_dim = r.uint("n_inner", 4 * c.d_model);
    c.max_positions = r.uint("n_positions");
    c.norm_eps = static_cast<float>(r.number("layer_norm_epsilon", 1e-5));
    c.activation = r.activation("activation_function", "gelu_new");
    c.positions = Positions::Learned;
    c.pre_norm = true;
    c.final_norm = true;
  } else if (c.model_type == "llama" || c.model_type == "qwen2" || c.model_type == "mistral") {
    parse_llama(r, c);
  } else if (c.model_type == "bart") {
    parse_bart(r, c);
  } else if (c.model_type == "marian") {
    parse_marian(r, c);
  } else if (c.model_type == "qkv") {
    const auto arch = r.string("architecture", "");
    if (arch == "encoder")
      c.arch = Arch::Encoder;
    else if (arch == "decoder")
      c.arch = Arch::Decoder;
    else if (arch == "encoder-decoder")
      c.arch = Arch::EncoderDecoder;
    else
      r.fail("architecture", "expected encoder, decoder or encoder-decoder");
    c.vocab_size = r.uint("vocab_size");
    c.d_model = r.uint("d_model");
    c.heads = r.uint("num_heads");
    c.ffn_dim = r.uint("ffn_dim");
    c.encoder_layers = c.has_encoder() ? r.uint("encoder_layers") : 0;
    c.decoder_layers = c.has_decoder() ? r.uint("decoder_layers") : 0;
    c.max_positions = r.uint("max_positions", 0);
    c.type_vocab_size = 0;
    const auto norm = r.string("norm", "layernorm");
    if (norm == "layernorm")
      c.norm = NormKind::LayerNorm;
    else if (norm == "rmsnorm")
      c.norm = NormKind::RmsNorm;
    else
      r.fail("norm", "expected layernorm or rmsnorm");
    c.norm_eps = static_cast<float>(r.number("norm_eps", 1e-5));
    c.pre_norm = r.boolean("norm_first", false);
    c.embed_norm = r.boolean("embed_norm", false);
    c.final_norm = r.boolean("final_norm", false);
    c.activation = r.activation("activation", "relu");
    const auto pos = r.string("positions", "sinusoidal");
    if (pos == "none")
      c.positions = Positions::None;
    else if (pos == "learned")
      c.positions = Positions::Learned;
    else if (pos == "sinusoidal")
      c.positions = Positions::Sinusoidal;
    else if (pos == "rotary")
      c.positions = Positions::Rotary;
    else
      r.fail("positions", "expected none, learned, sinusoidal or rotary");
    c.rope_base = r.number("rope_base", 10000.0);
    c.sinusoidal_base = r.number("sinusoidal_base", 10000.0);
    c.embed_scale = static_cast<float>(r.number("embed_scale", 1.0));
    c.tie_lm_head = r.boolean("tie_lm_head", true);
  } else {
    r.fail("model_type",
           "unsupported model_type '" + c.model_type +
               "' (bert, roberta, xlm-roberta, gpt2, llama, qwen2, mistral, bart, qkv)");
  }
  read_generation_ids(r, c);
  check(c, r);
  return c;
}

ModelConfig load_config(const std::filesystem::path& dir) {
  const auto file = dir / "config.json";
  std::ifstream in(file);
  if (!in) throw ModelError(file.string() + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), file.string());
}

}  // namespace qkv::model
