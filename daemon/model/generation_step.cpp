#include "model/generation_step.hpp"

#include <algorithm>
#include <string>

#include "model/error.hpp"
#include "model/kernels.hpp"

namespace qkv::model {

namespace {

void norm(const ModelConfig& c, const Norm& n, const float* x, float* y, size_t rows) {
  norm_rows(c.norm, x, y, rows, c.d_model, c.d_model, c.d_model, n.gamma.data(),
            n.beta.empty() ? nullptr : n.beta.data(), c.norm_eps);
}

// The heads of one attention call: self-attention may share key/value heads (GQA); cross
// attention has as many as queries.
struct HeadShape {
  uint32_t heads_q, heads_kv, head_dim;
  size_t kv_width() const { return size_t(heads_kv) * head_dim; }
  size_t q_width() const { return size_t(heads_q) * head_dim; }
};

// Attention of `q` rows (packed by cu_q) over per-sequence caches. `window` > 0: the causal
// sliding window (bottom-right aligned, so the new rows sit at the end of their cache).
void cached_attention(const HeadShape& hs, const Attention& att, const float* q, size_t q_stride,
                      std::span<const int32_t> cu_q, std::span<const int32_t> cu_k,
                      const std::vector<const float*>& k, const std::vector<const float*>& v,
                      bool causal, uint32_t window, float* out) {
  const std::vector<size_t> strides(k.size(), hs.kv_width());
  qkv_attention_args a{};
  a.struct_size = sizeof a;
  a.batch = static_cast<uint32_t>(k.size());
  a.heads_q = hs.heads_q;
  a.heads_kv = hs.heads_kv;
  a.head_dim = hs.head_dim;
  a.mask = causal ? QKV_MASK_CAUSAL : QKV_MASK_NONE;
  if (causal && window != 0) {
    a.mask = QKV_MASK_SLIDING_WINDOW;
    a.window = window;
  }
  a.cu_seqlens_q = cu_q.data();
  a.cu_seqlens_k = cu_k.data();
  a.q = q;
  a.q_stride = q_stride;
  a.k = k.front();  // ignored with k_seqs set
  a.v = v.front();
  a.k_stride = a.v_stride = hs.kv_width();
  a.k_seqs = k.data();
  a.v_seqs = v.data();
  a.k_seq_strides = strides.data();
  a.v_seq_strides = strides.data();
  a.out = out;
  a.out_stride = hs.q_width();
  att.forward(a);
}

}  // namespace

std::vector<float> decode_with_cache(const Transformer& t, const Components& b,
                                     std::span<SequenceCache* const> seqs, Packed fresh,
                                     const CacheFaults& faults) {
  const auto& c = t.config();
  const auto& st = t.weights().decoder;
  const size_t d = c.d_model, B = seqs.size(), T = fresh.ids.size();
  const GemmKernel gk = t.gemm_kernel();
  if (!b.attention) throw ModelError("no attention given");
  if (fresh.cu_seqlens.size() != B + 1 || T == 0)
    throw ModelError("decode step: the new rows do not match the sequences");
  const PositionalEncoding* pos = b.faults.drop_positions ? nullptr : b.decoder_positions;

  std::vector<int32_t> positions(T), cu_k(B + 1, 0), cu_x(B + 1, 0);
  for (size_t s = 0; s < B; ++s) {
    const int32_t n = fresh.cu_seqlens[s + 1] - fresh.cu_seqlens[s];
    if (n <= 0 || seqs[s]->length() + uint32_t(n) > seqs[s]->capacity())
      throw ModelError("decode step: sequence " + std::to_string(s) +
                       " has no new rows or no room in its cache");
    for (int32_t i = 0; i < n; ++i)
      positions[fresh.cu_seqlens[s] + i] = static_cast<int32_t>(seqs[s]->length()) + i;
    cu_k[s + 1] = cu_k[s] + static_cast<int32_t>(seqs[s]->length()) + n;
    cu_x[s + 1] = cu_x[s] + static_cast<int32_t>(seqs[s]->cross_length());
  }

  std::vector<float> x = embed(c, st, fresh.ids, positions, pos);

  // q | k | v widths (as Transformer::self_attention): GQA and head_dim != d / heads.
  const HeadShape self{c.heads, c.kv_head_count(), c.head_dim()};
  const HeadShape cross{c.heads, c.heads, c.head_dim()};
  const size_t qw = self.q_width(), kvw = self.kv_width(), row = qw + 2 * kvw;
  std::vector<float> h(T * d), o(T * d), qkv(T * std::max(row, d)), ctx(T * std::max(qw, d)), ffn,
      gate_up;
  std::vector<const float*> k(B), v(B);
  for (uint32_t l = 0; l < st.layers.size(); ++l) {
    const LayerWeights& L = st.layers[l];
    const float* in = x.data();
    if (c.pre_norm) {
      norm(c, L.self_norm, x.data(), h.data(), T);
      in = h.data();
    }
    apply_linear(gk, L.qkv, in, T, d, qkv.data(), row);
    if (pos && pos->rotary())
      pos->rotate(qkv.data(), c.heads + c.kv_head_count(), c.head_dim(), row, positions);
    for (size_t s = 0; s < B; ++s) {
      SequenceCache& cache = *seqs[s];
      const bool step = cache.length() > 0;
      for (int32_t r = fresh.cu_seqlens[s]; r < fresh.cu_seqlens[s + 1]; ++r) {
        const size_t at = (cache.length() + size_t(r - fresh.cu_seqlens[s])) * kvw;
        if (faults.drop_step_keys && step) {
          std::fill_n(cache.keys(l) + at, kvw, 0.0f);
          std::fill_n(cache.values(l) + at, kvw, 0.0f);
          continue;
        }
        std::copy_n(qkv.data() + size_t(r) * row + qw, kvw, cache.keys(l) + at);
        std::copy_n(qkv.data() + size_t(r) * row + qw + kvw, kvw, cache.values(l) + at);
      }
      k[s] = cache.keys(l);
      v[s] = cache.values(l);
    }
    cached_attention(self, *b.attention, qkv.data(), row, fresh.cu_seqlens, cu_k, k, v, true,
                     L.window, ctx.data());
    apply_linear(gk, L.self_out, ctx.data(), T, qw, o.data(), d);
    add_into(x.data(), o.data(), T * d);
    if (!c.pre_norm) norm(c, L.self_norm, x.data(), x.data(), T);

    if (L.cross) {
      in = x.data();
      if (c.pre_norm) {
        norm(c, L.cross_norm, x.data(), h.data(), T);
        in = h.data();
      }
      apply_linear(gk, L.cross_q, in, T, d, qkv.data(), d);
      for (size_t s = 0; s < B; ++s) {
        if (seqs[s]->cross_length() == 0)
          throw ModelError("decode step: an encoder-decoder sequence without its source");
        k[s] = seqs[s]->cross_keys(l);
        v[s] = seqs[s]->cross_values(l);
      }
      cached_attention(cross, *b.attention, qkv.data(), d, fresh.cu_seqlens, cu_x, k, v, false, 0,
                       ctx.data());
      apply_linear(gk, L.cross_out, ctx.data(), T, d, o.data(), d);
      add_into(x.data(), o.data(), T * d);
      if (!c.pre_norm) norm(c, L.cross_norm, x.data(), x.data(), T);
    }

    in = x.data();
    if (c.pre_norm) {
      norm(c, L.ffn_norm, x.data(), h.data(), T);
      in = h.data();
    }
    feed_forward(c, L, gk, in, T, ffn, gate_up, o.data());
    add_into(x.data(), o.data(), T * d);
    if (!c.pre_norm) norm(c, L.ffn_norm, x.data(), x.data(), T);
  }
  for (size_t s = 0; s < B; ++s)
    seqs[s]->advance(static_cast<uint32_t>(fresh.cu_seqlens[s + 1] - fresh.cu_seqlens[s]));

  // Only the last row of each sequence is read off (the next-token position).
  std::vector<float> last(B * d);
  for (size_t s = 0; s < B; ++s)
    std::copy_n(x.data() + size_t(fresh.cu_seqlens[s + 1] - 1) * d, d, last.data() + s * d);
  if (c.final_norm) norm(c, st.final_norm, last.data(), last.data(), B);
  return last;
}

void fill_cross_cache(const Transformer& t, const Components& b,
                      std::span<SequenceCache* const> seqs, Packed sources) {
  const auto& c = t.config();
  const size_t d = c.d_model;
  if (sources.cu_seqlens.size() != seqs.size() + 1)
    throw ModelError("cross cache: the sources do not match the sequences");
  const std::vector<float> memory = t.encode(sources, b);
  const auto& layers = t.weights().decoder.layers;
  std::vector<float> kv;
  for (size_t s = 0; s < seqs.size(); ++s) {
    const int32_t s0 = sources.cu_seqlens[s], n = sources.cu_seqlens[s + 1] - s0;
    seqs[s]->reserve_cross(static_cast<uint32_t>(n));
    if (n == 0) continue;
    kv.resize(size_t(n) * 2 * d);
    for (uint32_t l = 0; l < layers.size(); ++l) {
      if (!layers[l].cross) continue;
      apply_linear(t.gemm_kernel(), layers[l].cross_kv, memory.data() + size_t(s0) * d, n, d,
                   kv.data(), 2 * d);
      for (int32_t r = 0; r < n; ++r) {
        std::copy_n(kv.data() + size_t(r) * 2 * d, d, seqs[s]->cross_keys(l) + size_t(r) * d);
        std::copy_n(kv.data() + size_t(r) * 2 * d + d, d, seqs[s]->cross_values(l) + size_t(r) * d);
      }
    }
  }
}

}  // namespace qkv::model
