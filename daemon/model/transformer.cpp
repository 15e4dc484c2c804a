#include "model/transformer.hpp"

#include <algorithm>
#include <string>

#include "model/error.hpp"
#include "model/kernels.hpp"
#include "model/swiglu.hpp"

namespace qkv::model {

namespace {

// Position of every row within its document.
std::vector<int32_t> positions_of(std::span<const int32_t> cu) {
  std::vector<int32_t> p(cu.empty() ? 0 : cu.back());
  for (size_t b = 0; b + 1 < cu.size(); ++b)
    for (int32_t t = cu[b]; t < cu[b + 1]; ++t) p[t] = t - cu[b];
  return p;
}

void check_packed(Packed in, const char* what) {
  const auto& cu = in.cu_seqlens;
  if (cu.empty() || cu.front() != 0 || static_cast<size_t>(cu.back()) != in.ids.size())
    throw ModelError(std::string(what) + ": cu_seqlens must start at 0 and end at the token count");
  for (size_t i = 1; i < cu.size(); ++i)
    if (cu[i] < cu[i - 1]) throw ModelError(std::string(what) + ": cu_seqlens must not decrease");
}

void apply_norm(const ModelConfig& c, const Norm& n, const float* x, float* y, size_t rows) {
  norm_rows(c.norm, x, y, rows, c.d_model, c.d_model, c.d_model, n.gamma.data(),
            n.beta.empty() ? nullptr : n.beta.data(), c.norm_eps);
}

qkv_attention_args attention_args(const ModelConfig& c, uint32_t batch, const int32_t* cu_q,
                                  const int32_t* cu_k, bool causal) {
  qkv_attention_args a{};
  a.struct_size = sizeof a;
  a.batch = batch;
  a.heads_q = c.heads;
  a.heads_kv = c.kv_head_count();
  a.head_dim = c.head_dim();
  a.mask = causal ? QKV_MASK_CAUSAL : QKV_MASK_NONE;
  a.scale = 0.0f;
  a.cu_seqlens_q = cu_q;
  a.cu_seqlens_k = cu_k;
  return a;
}

}  // namespace

void apply_linear(GemmKernel kernel, const Linear& l, const float* x, size_t rows, size_t x_stride,
                  float* y, size_t y_stride) {
  if (!l.b.empty())
    for (size_t r = 0; r < rows; ++r) std::copy(l.b.begin(), l.b.end(), y + r * y_stride);
  gemm(kernel, {rows, l.out, l.in, x, x_stride, l.w.data(), l.out, y, y_stride, !l.b.empty()});
}

std::vector<float> embed(const ModelConfig& c, const StackWeights& st, std::span<const int32_t> ids,
                         std::span<const int32_t> positions, const PositionalEncoding* pos) {
  const size_t d = c.d_model, T = ids.size();
  std::vector<float> x(T * d);
  for (size_t t = 0; t < T; ++t) {
    const int32_t id = ids[t];
    if (id < 0 || static_cast<uint32_t>(id) >= c.vocab_size)
      throw ModelError("token id " + std::to_string(id) + " (row " + std::to_string(t) +
                       ") is outside the model's vocabulary of " + std::to_string(c.vocab_size));
    const float* e = st.tokens.data() + size_t(id) * d;
    float* row = x.data() + t * d;
    for (size_t i = 0; i < d; ++i) row[i] = e[i] * c.embed_scale;
    if (!st.type0.empty()) add_into(row, st.type0.data(), d);
  }
  if (pos && !pos->rotary()) pos->add(x.data(), c.d_model, d, positions);
  if (c.embed_norm) apply_norm(c, st.embed_norm, x.data(), x.data(), T);
  return x;
}

void feed_forward(const ModelConfig& c, const LayerWeights& L, GemmKernel kernel, const float* in,
                  size_t rows, std::vector<float>& ffn, std::vector<float>& gate_up, float* out) {
  const size_t d = c.d_model;
  ffn.resize(rows * c.ffn_dim);
  if (c.ffn == Ffn::SwiGlu) {
    gate_up.resize(rows * 2 * c.ffn_dim);
    apply_linear(kernel, L.ffn_up, in, rows, d, gate_up.data(), 2 * c.ffn_dim);
    swiglu_rows(gate_up.data(), ffn.data(), rows, c.ffn_dim);
  } else {
    apply_linear(kernel, L.ffn_up, in, rows, d, ffn.data(), c.ffn_dim);
    activate(c.activation, ffn.data(), rows * c.ffn_dim);
  }
  apply_linear(kernel, L.ffn_down, ffn.data(), rows, c.ffn_dim, out, d);
}

Transformer::Transformer(ModelConfig config, ModelWeights weights, GemmKernel gemm)
    : config_(std::move(config)), weights_(std::move(weights)), gemm_(gemm) {}

void Transformer::self_attention(const LayerWeights& L, const float* x, Packed in,
                                 std::span<const int32_t> positions, const PositionalEncoding* pos,
                                 bool causal, const Attention& att, float* out,
                                 std::vector<float>* scratch) const {
  const size_t T = in.ids.size(), d = config_.d_model;
  // q | k | v widths differ under grouped-query attention or a head_dim other than d / heads.
  const size_t qw = config_.q_width(), kvw = config_.kv_width(), row = qw + 2 * kvw;
  std::vector<float> own;
  std::vector<float>& buf = scratch ? *scratch : own;
  buf.resize(T * (row + qw));
  const std::span<float> qkv(buf.data(), T * row), ctx(buf.data() + T * row, T * qw);
  // The projection writes all of qkv; ctx starts at zero as a fresh buffer did, whatever rows
  // an attention plugin leaves alone.
  std::fill(ctx.begin(), ctx.end(), 0.0f);
  apply_linear(gemm_, L.qkv, x, T, d, qkv.data(), row);
  // q and k lie side by side in each row, so one call rotates both, as heads + kv heads of the
  // same width (the layout sdk/include/qkv/abi.h gives `rotate`): the angles of each position
  // are computed once for q and k.
  if (pos && pos->rotary())
    pos->rotate(qkv.data(), config_.heads + config_.kv_head_count(), config_.head_dim(), row,
                positions);
  auto a = attention_args(config_, static_cast<uint32_t>(in.cu_seqlens.size() - 1),
                          in.cu_seqlens.data(), in.cu_seqlens.data(), causal);
  if (causal && L.window != 0) {
    a.mask = QKV_MASK_SLIDING_WINDOW;
    a.window = L.window;
  }
  a.q = qkv.data();
  a.k = qkv.data() + qw;
  a.v = qkv.data() + qw + kvw;
  a.q_stride = a.k_stride = a.v_stride = row;
  a.out = ctx.data();
  a.out_stride = qw;
  if (T > 0) att.forward(a);
  apply_linear(gemm_, L.self_out, ctx.data(), T, qw, out, d);
}

std::vector<float> Transformer::run_stack(const StackWeights& st, Packed in,
                                          const PositionalEncoding* pos, bool causal,
                                          const Components& b, std::span<const float> memory,
                                          std::span<const int32_t> memory_cu) const {
  const auto& c = config_;
  const size_t d = c.d_model;
  if (!b.attention) throw ModelError("no attention given");
  if (b.faults.drop_positions) pos = nullptr;
  check_packed(in, "input batch");
  size_t T = in.ids.size();
  std::vector<int32_t> cu(in.cu_seqlens.begin(), in.cu_seqlens.end());
  auto positions = positions_of(cu);

  std::vector<float> x = embed(c, st, in.ids, positions, pos);

  std::vector<float> h(T * d), o(T * d), ffn, gate_up, attention_scratch;
  for (const auto& L : st.layers) {
    const Packed cur{std::span<const int32_t>(positions.data(), T), cu};  // only sizes are read
    // Self-attention.
    const float* sa_in = x.data();
    if (c.pre_norm) {
      apply_norm(c, L.self_norm, x.data(), h.data(), T);
      sa_in = h.data();
    }
    self_attention(L, sa_in, cur, positions, pos, causal, *b.attention, o.data(),
                   &attention_scratch);
    add_into(x.data(), o.data(), T * d);
    if (!c.pre_norm) apply_norm(c, L.self_norm, x.data(), x.data(), T);

    // Cross-attention over the encoder's output.
    if (L.cross) {
      const size_t S = memory_cu.empty() ? 0 : static_cast<size_t>(memory_cu.back());
      if (memory_cu.size() != cu.size() || memory.size() != S * d)
        throw ModelError("cross-attention: encoder output does not match the decoder batch");
      const float* ca_in = x.data();
      if (c.pre_norm) {
        apply_norm(c, L.cross_norm, x.data(), h.data(), T);
        ca_in = h.data();
      }
      // Sources of queries and keys/values (swapped or replaced only by test faults).
      const float* q_src = ca_in;
      size_t Tq = T;
      const int32_t* cu_q = cu.data();
      const float* kv_src = memory.data();
      size_t Tk = S;
      const int32_t* cu_k = memory_cu.data();
      if (b.faults.cross_kv_from_decoder) {
        kv_src = ca_in;
        Tk = T;
        cu_k = cu.data();
      }
      if (b.faults.swap_cross_sources) {
        std::swap(q_src, kv_src);
        std::swap(Tq, Tk);
        std::swap(cu_q, cu_k);
      }
      std::vector<float> q(Tq * d), kv(Tk * 2 * d), ctx(Tq * d), co(Tq * d);
      apply_linear(gemm_, L.cross_q, q_src, Tq, d, q.data(), d);
      apply_linear(gemm_, L.cross_kv, kv_src, Tk, d, kv.data(), 2 * d);
      auto a = attention_args(c, static_cast<uint32_t>(cu.size() - 1), cu_q, cu_k, false);
      a.q = q.data();
      a.k = kv.data();
      a.v = kv.data() + d;
      a.q_stride = d;
      a.k_stride = a.v_stride = 2 * d;
      a.out = ctx.data();
      a.out_stride = d;
      if (Tq > 0) b.attention->forward(a);
      apply_linear(gemm_, L.cross_out, ctx.data(), Tq, d, co.data(), d);
      if (Tq != T) {  // only under swap_cross_sources: the stream takes the source's shape
        x = co;
        T = Tq;
        cu.assign(cu_q, cu_q + cu.size());
        positions = positions_of(cu);
        h.resize(T * d);
        o.resize(T * d);
      } else {
        add_into(x.data(), co.data(), T * d);
      }
      if (!c.pre_norm) apply_norm(c, L.cross_norm, x.data(), x.data(), T);
    }

    // Feed-forward.
    const float* ff_in = x.data();
    if (c.pre_norm) {
      apply_norm(c, L.ffn_norm, x.data(), h.data(), T);
      ff_in = h.data();
    }
    feed_forward(c, L, gemm_, ff_in, T, ffn, gate_up, o.data());
    add_into(x.data(), o.data(), T * d);
    if (!c.pre_norm) apply_norm(c, L.ffn_norm, x.data(), x.data(), T);
  }
  if (c.final_norm) apply_norm(c, st.final_norm, x.data(), x.data(), T);
  return x;
}

std::vector<float> Transformer::encode(Packed src, const Components& b) const {
  if (!config_.has_encoder()) throw ModelError("this model has no encoder");
  return run_stack(weights_.encoder, src, b.encoder_positions, b.faults.force_causal_mask, b, {},
                   {});
}

std::vector<float> Transformer::decode(Packed tgt, const Components& b,
                                       std::span<const float> memory,
                                       std::span<const int32_t> memory_cu) const {
  if (!config_.has_decoder()) throw ModelError("this model has no decoder");
  return run_stack(weights_.decoder, tgt, b.decoder_positions, !b.faults.drop_causal_mask, b,
                   memory, memory_cu);
}

}  // namespace qkv::model
