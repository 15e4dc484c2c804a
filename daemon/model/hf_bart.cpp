#include "model/hf_bart.hpp"

#include <algorithm>

#include "model/checkpoint_source.hpp"

namespace qkv::model {

using namespace checkpoint;

namespace {

// BartAttention: separate q/k/v/out projections, all with biases.
void attention(const Source& s, const std::string& p, uint32_t d, Linear& qkv_or_q, Linear* kv,
               Linear& out) {
  const auto q = linear_out_in(s, p + "q_proj", d, d);
  const auto k = linear_out_in(s, p + "k_proj", d, d);
  const auto v = linear_out_in(s, p + "v_proj", d, d);
  if (kv) {  // cross-attention: q from the decoder, k | v from the encoder output
    qkv_or_q = q;
    *kv = concat_cols({&k, &v});
  } else {
    qkv_or_q = concat_cols({&q, &k, &v});
  }
  out = linear_out_in(s, p + "out_proj", d, d);
}

void load_stack(const ModelConfig& c, const Source& s, const std::string& name, uint32_t layers,
                bool cross, const std::vector<float>& shared, StackWeights& st) {
  const uint32_t d = c.d_model;
  st.tokens = shared;
  if (c.positions == Positions::Learned)
    st.positions_tensor = s.checked_name(name + ".embed_positions.weight", {c.max_positions, d});
  else if (s.has(name + ".embed_positions.weight"))  // Marian's fixed table, made by the plugin
    s.checked_name(name + ".embed_positions.weight", {c.max_positions, d});
  if (c.embed_norm) st.embed_norm = norm(s, name + ".layernorm_embedding", d, true);
  for (uint32_t i = 0; i < layers; ++i) {
    const auto p = name + ".layers." + std::to_string(i) + ".";
    LayerWeights L;
    attention(s, p + "self_attn.", d, L.qkv, nullptr, L.self_out);
    L.self_norm = norm(s, p + "self_attn_layer_norm", d, true);
    if (cross) {
      L.cross = true;
      attention(s, p + "encoder_attn.", d, L.cross_q, &L.cross_kv, L.cross_out);
      L.cross_norm = norm(s, p + "encoder_attn_layer_norm", d, true);
    }
    L.ffn_up = linear_out_in(s, p + "fc1", d, c.ffn_dim);
    L.ffn_down = linear_out_in(s, p + "fc2", c.ffn_dim, d);
    L.ffn_norm = norm(s, p + "final_layer_norm", d, true);
    st.layers.push_back(std::move(L));
  }
}

}  // namespace

void load_hf_bart(const ModelConfig& c, const SafetensorsFile& f, ModelWeights& m) {
  const bool prefixed = f.find("model.shared.weight") != nullptr;
  const Source s(f, prefixed ? "model." : "", &m.tensors_read);
  const uint32_t d = c.d_model;
  const auto shared = s.get("shared.weight", {c.vocab_size, d});
  // encoder/decoder.embed_tokens and lm_head.weight are HF's tied copies of shared: read to
  // check their shape (and so not reported as ignored), the shared table is used.
  for (const char* tied : {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"})
    if (s.has(tied)) s.checked_name(tied, {c.vocab_size, d});
  load_stack(c, s, "encoder", c.encoder_layers, false, shared, m.encoder);
  load_stack(c, s, "decoder", c.decoder_layers, true, shared, m.decoder);
  const Source top(f, "", &m.tensors_read);
  if (!c.tie_lm_head)
    m.lm_head = linear_out_in(top, "lm_head", d, c.vocab_size, false);
  else {
    if (top.has("lm_head.weight")) top.checked_name("lm_head.weight", {c.vocab_size, d});
    m.lm_head = transpose_to_linear(shared, c.vocab_size, d);
  }
  if (top.has("final_logits_bias")) m.lm_head.b = top.get("final_logits_bias", {1, c.vocab_size});
}

std::vector<int32_t> shift_tokens_right(std::span<const int32_t> ids, std::span<const int32_t> cu,
                                        int32_t start) {
  std::vector<int32_t> out(ids.size());
  for (size_t b = 0; b + 1 < cu.size(); ++b) {
    if (cu[b + 1] == cu[b]) continue;
    out[cu[b]] = start;
    std::copy(ids.begin() + cu[b], ids.begin() + cu[b + 1] - 1, out.begin() + cu[b] + 1);
  }
  return out;
}

}  // namespace qkv::model
