// The attention definition written as plainly as possible (double accumulation), header-only.
// qkv-conformance uses it to check the reference plugin itself (so checking the reference is
// not circular); tests build deliberately wrong plugins from it by switching a flaw on.
#pragma once

#include <qkv/abi.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace qkv::conformance {

struct NaiveFlaws {
  bool ignore_causal = false;  // treats QKV_MASK_CAUSAL as no mask
  bool ignore_scale = false;   // always 1/sqrt(head_dim)
};

inline void naive_attention(const qkv_attention_args& a, NaiveFlaws flaws = {}) {
  const size_t d = a.head_dim;
  const size_t qs = a.q_stride ? a.q_stride : a.heads_q * d;
  const size_t ks = a.k_stride ? a.k_stride : a.heads_kv * d;
  const size_t vs = a.v_stride ? a.v_stride : a.heads_kv * d;
  const size_t os = a.out_stride ? a.out_stride : a.heads_q * d;
  const double scale =
      (a.scale != 0.0f && !flaws.ignore_scale) ? a.scale : 1.0 / std::sqrt(double(d));
  const bool causal = a.mask != QKV_MASK_NONE && !flaws.ignore_causal;
  const int64_t window = a.mask == QKV_MASK_SLIDING_WINDOW ? a.window : 0;  // 0: no lower bound
  const uint32_t group = a.heads_q / a.heads_kv;
  float* probs = a.probs;
  std::vector<double> p, acc(d);
  for (uint32_t b = 0; b < a.batch; ++b) {
    const int64_t q0 = a.cu_seqlens_q[b], lq = a.cu_seqlens_q[b + 1] - q0;
    const int64_t k0 = a.cu_seqlens_k[b], lk = a.cu_seqlens_k[b + 1] - k0;
    // Key j of this sequence: at a.k + (k0 + j) * ks, or in its own cache (ABI 1.1 k_seqs).
    const size_t ksb = a.k_seq_strides && a.k_seq_strides[b] ? a.k_seq_strides[b] : ks;
    const size_t vsb = a.v_seq_strides && a.v_seq_strides[b] ? a.v_seq_strides[b] : vs;
    const float* keys = a.k_seqs ? a.k_seqs[b] : (lk ? a.k + k0 * ks : nullptr);
    const float* values = a.v_seqs ? a.v_seqs[b] : (lk ? a.v + k0 * vs : nullptr);
    for (uint32_t h = 0; h < a.heads_q; ++h) {
      const uint32_t kh = h / group;
      for (int64_t i = 0; i < lq; ++i) {
        const float* q = a.q + (q0 + i) * qs + h * d;
        // Bottom-right aligned: query i stands at key i + lk - lq; a window keeps the newest
        // `window` keys up to there.
        const int64_t visible = causal ? std::clamp<int64_t>(i + lk - lq + 1, 0, lk) : lk;
        const int64_t first = window ? std::clamp<int64_t>(visible - window, 0, visible) : 0;
        p.assign(static_cast<size_t>(lk), 0.0);
        double max = -INFINITY, sum = 0;
        for (int64_t j = first; j < visible; ++j) {
          const float* k = keys + j * ksb + kh * d;
          double s = 0;
          for (size_t x = 0; x < d; ++x) s += double(q[x]) * k[x];
          p[j] = s * scale;
          max = std::max(max, p[j]);
        }
        for (int64_t j = first; j < visible; ++j) sum += (p[j] = std::exp(p[j] - max));
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t j = first; j < visible; ++j) {
          p[j] /= sum;
          const float* v = values + j * vsb + kh * d;
          for (size_t x = 0; x < d; ++x) acc[x] += p[j] * v[x];
        }
        float* out = a.out + (q0 + i) * os + h * d;
        for (size_t x = 0; x < d; ++x) out[x] = static_cast<float>(acc[x]);
        if (probs)
          for (int64_t j = 0; j < lk; ++j) *probs++ = static_cast<float>(p[j]);
      }
    }
  }
}

}  // namespace qkv::conformance
