#include "model/hf_llama.hpp"

#include "model/checkpoint_source.hpp"

namespace qkv::model {

using namespace checkpoint;

void load_hf_llama(const ModelConfig& c, const SafetensorsFile& f, ModelWeights& m) {
  const bool prefixed = f.find("model.embed_tokens.weight") != nullptr;
  const Source s(f, prefixed ? "model." : "", &m.tensors_read);
  const uint32_t d = c.d_model, qw = c.q_width(), kvw = c.kv_width();
  auto& st = m.decoder;
  st.tokens = s.get("embed_tokens.weight", {c.vocab_size, d});
  for (uint32_t i = 0; i < c.decoder_layers; ++i) {
    const auto p = "layers." + std::to_string(i) + ".";
    LayerWeights L;
    L.self_norm = norm(s, p + "input_layernorm", d, false);
    const auto q = linear_out_in(s, p + "self_attn.q_proj", d, qw, c.attention_bias);
    const auto k = linear_out_in(s, p + "self_attn.k_proj", d, kvw, c.attention_bias);
    const auto v = linear_out_in(s, p + "self_attn.v_proj", d, kvw, c.attention_bias);
    L.qkv = concat_cols({&q, &k, &v});
    L.self_out = linear_out_in(s, p + "self_attn.o_proj", qw, d, c.attn_out_bias);
    L.ffn_norm = norm(s, p + "post_attention_layernorm", d, false);
    const auto gate = linear_out_in(s, p + "mlp.gate_proj", d, c.ffn_dim, c.mlp_bias);
    const auto up = linear_out_in(s, p + "mlp.up_proj", d, c.ffn_dim, c.mlp_bias);
    L.ffn_up = concat_cols({&gate, &up});
    L.ffn_down = linear_out_in(s, p + "mlp.down_proj", c.ffn_dim, d, c.mlp_bias);
    if (c.sliding_window != 0 && i >= c.window_from_layer) L.window = c.sliding_window;
    st.layers.push_back(std::move(L));
  }
  st.final_norm = norm(s, "norm", d, false);
  // tie_word_embeddings: PreTrainedModel.tie_weights makes lm_head the token table, whatever
  // the file holds; untied, lm_head.weight must be there.
  const Source top(f, "", &m.tensors_read);
  if (c.tie_lm_head)
    m.lm_head = transpose_to_linear(st.tokens, c.vocab_size, d);
  else
    m.lm_head = linear_out_in(top, "lm_head", d, c.vocab_size, false);
}

}  // namespace qkv::model
