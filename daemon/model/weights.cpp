#include "model/weights.hpp"

#include <functional>

#include "model/error.hpp"
#include "model/checkpoint_source.hpp"
#include "model/hf_bart.hpp"
#include "model/hf_llama.hpp"
#include "model/safetensors.hpp"

namespace qkv::model {

namespace {

using namespace checkpoint;

// nn.MultiheadAttention's packed projection: in_proj_weight [3d, d], in_proj_bias [3d].
Linear in_proj(const Source& s, const std::string& prefix, uint32_t d) {
  return {d, 3 * d, transpose(s.get(prefix + "in_proj_weight", {3 * d, d}), 3 * d, d),
          s.get(prefix + "in_proj_bias", {3 * d})};
}

Linear linear_in_out(const Source& s, const std::string& name, uint32_t in, uint32_t out) {
  return {in, out, s.get(name + ".weight", {in, out}), s.get(name + ".bias", {out})};
}

// Packed [n*d, d] projection (nn.MultiheadAttention in_proj) rows [r0, r1) as [d, r1-r0].
Linear slice_rows(const Linear& packed_out_in_t, uint32_t c0, uint32_t c1) {
  // packed_out_in_t is already transposed to [in, n*d]: take columns c0..c1.
  Linear l;
  l.in = packed_out_in_t.in;
  l.out = c1 - c0;
  l.w.resize(size_t(l.in) * l.out);
  for (size_t r = 0; r < l.in; ++r)
    for (size_t c = c0; c < c1; ++c)
      l.w[r * l.out + (c - c0)] = packed_out_in_t.w[r * packed_out_in_t.out + c];
  if (!packed_out_in_t.b.empty())
    l.b.assign(packed_out_in_t.b.begin() + c0, packed_out_in_t.b.begin() + c1);
  return l;
}

// ---------------------------------------------------------------- HF BERT (modeling_bert.py)

void load_bert(const ModelConfig& c, const SafetensorsFile& f, ModelWeights& m) {
  // BertModel / RobertaModel files have no prefix, *ForMaskedLM and the like `bert.` / `roberta.`.
  std::string prefix;
  for (const char* p : {"bert.", "roberta."})
    if (f.find(std::string(p) + "embeddings.word_embeddings.weight")) prefix = p;
  const Source s(f, prefix, &m.tensors_read);
  const uint32_t d = c.d_model;
  auto& st = m.encoder;
  st.tokens = s.get("embeddings.word_embeddings.weight", {c.vocab_size, d});
  st.positions_tensor =
      s.checked_name("embeddings.position_embeddings.weight", {c.max_positions, d});
  auto types = s.get("embeddings.token_type_embeddings.weight", {c.type_vocab_size, d});
  st.type0.assign(types.begin(), types.begin() + d);
  st.embed_norm = norm(s, "embeddings.LayerNorm", d, true);
  for (uint32_t i = 0; i < c.encoder_layers; ++i) {
    const auto p = "encoder.layer." + std::to_string(i) + ".";
    LayerWeights L;
    const auto q = linear_out_in(s, p + "attention.self.query", d, d);
    const auto k = linear_out_in(s, p + "attention.self.key", d, d);
    const auto v = linear_out_in(s, p + "attention.self.value", d, d);
    L.qkv = concat_cols({&q, &k, &v});
    L.self_out = linear_out_in(s, p + "attention.output.dense", d, d);
    L.self_norm = norm(s, p + "attention.output.LayerNorm", d, true);
    L.ffn_up = linear_out_in(s, p + "intermediate.dense", d, c.ffn_dim);
    L.ffn_down = linear_out_in(s, p + "output.dense", c.ffn_dim, d);
    L.ffn_norm = norm(s, p + "output.LayerNorm", d, true);
    st.layers.push_back(std::move(L));
  }
}

// ---------------------------------------------------------------- HF GPT-2 (modeling_gpt2.py)

void load_gpt2(const ModelConfig& c, const SafetensorsFile& f, ModelWeights& m) {
  const bool prefixed = f.find("transformer.wte.weight") != nullptr;
  const Source s(f, prefixed ? "transformer." : "", &m.tensors_read);
  const uint32_t d = c.d_model;
  auto& st = m.decoder;
  st.tokens = s.get("wte.weight", {c.vocab_size, d});
  st.positions_tensor = s.checked_name("wpe.weight", {c.max_positions, d});
  for (uint32_t i = 0; i < c.decoder_layers; ++i) {
    const auto p = "h." + std::to_string(i) + ".";
    LayerWeights L;
    L.self_norm = norm(s, p + "ln_1", d, true);
    L.qkv = linear_in_out(s, p + "attn.c_attn", d, 3 * d);  // Conv1D: [in, out]
    L.self_out = linear_in_out(s, p + "attn.c_proj", d, d);
    L.ffn_norm = norm(s, p + "ln_2", d, true);
    L.ffn_up = linear_in_out(s, p + "mlp.c_fc", d, c.ffn_dim);
    L.ffn_down = linear_in_out(s, p + "mlp.c_proj", c.ffn_dim, d);
    st.layers.push_back(std::move(L));
  }
  st.final_norm = norm(s, "ln_f", d, true);
  // GPT2LMHeadModel ties lm_head to wte; a separate lm_head.weight is used when present.
  const Source top(f, "", &m.tensors_read);
  if (top.has("lm_head.weight"))
    m.lm_head = linear_out_in(top, "lm_head", d, c.vocab_size, false);
  else
    m.lm_head = transpose_to_linear(st.tokens, c.vocab_size, d);
}

// ---------------------------------------------------------------- qkv (nn.Transformer names)

LayerWeights qkv_layer(const ModelConfig& c, const Source& s, const std::string& p, bool cross) {
  const uint32_t d = c.d_model;
  const bool bias = c.norm == NormKind::LayerNorm;
  LayerWeights L;
  L.qkv = in_proj(s, p + "self_attn.", d);
  L.self_out = linear_out_in(s, p + "self_attn.out_proj", d, d);
  L.self_norm = norm(s, p + "norm1", d, bias);
  if (cross) {
    L.cross = true;
    const auto packed = in_proj(s, p + "multihead_attn.", d);
    L.cross_q = slice_rows(packed, 0, d);
    L.cross_kv = slice_rows(packed, d, 3 * d);
    L.cross_out = linear_out_in(s, p + "multihead_attn.out_proj", d, d);
    L.cross_norm = norm(s, p + "norm2", d, bias);
    L.ffn_norm = norm(s, p + "norm3", d, bias);
  } else {
    L.ffn_norm = norm(s, p + "norm2", d, bias);
  }
  L.ffn_up = linear_out_in(s, p + "linear1", d, c.ffn_dim);
  L.ffn_down = linear_out_in(s, p + "linear2", c.ffn_dim, d);
  return L;
}

void load_qkv_stack(const ModelConfig& c, const Source& s, const std::string& name, uint32_t layers,
                    bool cross, StackWeights& st) {
  const uint32_t d = c.d_model;
  const bool bias = c.norm == NormKind::LayerNorm;
  // A decoder without its own table shares the encoder's (one vocabulary for both sides).
  if (name == "decoder" && c.has_encoder() && !s.has("decoder.embed_tokens.weight"))
    st.tokens = s.get("encoder.embed_tokens.weight", {c.vocab_size, d});
  else
    st.tokens = s.get(name + ".embed_tokens.weight", {c.vocab_size, d});
  if (c.positions == Positions::Learned)
    st.positions_tensor = s.checked_name(name + ".embed_positions.weight", {c.max_positions, d});
  if (c.embed_norm) st.embed_norm = norm(s, name + ".embed_norm", d, bias);
  for (uint32_t i = 0; i < layers; ++i)
    st.layers.push_back(qkv_layer(c, s, name + ".layers." + std::to_string(i) + ".", cross));
  if (c.final_norm) st.final_norm = norm(s, name + ".norm", d, bias);
}

void load_qkv(const ModelConfig& c, const SafetensorsFile& f, ModelWeights& m) {
  const Source s(f, "", &m.tensors_read);
  if (c.has_encoder()) load_qkv_stack(c, s, "encoder", c.encoder_layers, false, m.encoder);
  if (c.has_decoder()) {
    load_qkv_stack(c, s, "decoder", c.decoder_layers, c.arch == Arch::EncoderDecoder, m.decoder);
    if (!c.tie_lm_head || s.has("lm_head.weight"))
      m.lm_head = linear_out_in(s, "lm_head", c.d_model, c.vocab_size, s.has("lm_head.bias"));
    else
      m.lm_head = transpose_to_linear(m.decoder.tokens, c.vocab_size, c.d_model);
  }
}

}  // namespace

Linear transpose_to_linear(const std::vector<float>& rows, uint32_t n_rows, uint32_t n_cols) {
  return {n_cols, n_rows, transpose(rows, n_rows, n_cols), {}};
}

LayerWeights load_attention_module(const SafetensorsFile& file, const std::string& prefix,
                                   uint32_t d) {
  const Source s(file, "");
  LayerWeights L;
  L.qkv = in_proj(s, prefix, d);
  L.self_out = linear_out_in(s, prefix + "out_proj", d, d);
  return L;
}

ModelWeights load_weights(const ModelConfig& config, const SafetensorsFile& file) {
  ModelWeights m;
  if (config.model_type == "bert" || config.model_type == "roberta" ||
      config.model_type == "xlm-roberta")
    load_bert(config, file, m);
  else if (config.model_type == "gpt2")
    load_gpt2(config, file, m);
  else if (config.model_type == "llama" || config.model_type == "qwen2" ||
           config.model_type == "mistral")
    load_hf_llama(config, file, m);
  else if (config.model_type == "bart" || config.model_type == "marian")
    load_hf_bart(config, file, m);
  else
    load_qkv(config, file, m);
  return m;
}

}  // namespace qkv::model
