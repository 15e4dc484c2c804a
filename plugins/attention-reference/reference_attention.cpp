#include "reference_attention.hpp"

#include <qkv/attention_check.hpp>

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace qkv::attention {

void reference_forward(const qkv_attention_args& a) {
  const sdk::AttentionGeometry g = sdk::attention_geometry(a);
  const size_t d = g.head_dim;
  tbb::parallel_for(size_t{0}, size_t{g.batch} * g.heads_q, [&](size_t task) {
    const size_t b = task / g.heads_q, h = task % g.heads_q, hk = h / g.group;
    const int64_t q0 = a.cu_seqlens_q[b], lq = a.cu_seqlens_q[b + 1] - q0;
    const int64_t lk = a.cu_seqlens_k[b + 1] - a.cu_seqlens_k[b];
    const float* keys = lk ? g.k0[b] + hk * d : nullptr;  // key j: keys + j * ks
    const float* values = lk ? g.v0[b] + hk * d : nullptr;
    const size_t ks = g.k_stride[b], vs = g.v_stride[b];
    std::vector<double> s(lk), acc(d);
    float* probs = a.probs ? a.probs + g.probs_offset[b] + h * lq * lk : nullptr;
    for (int64_t i = 0; i < lq; ++i) {
      const float* q = a.q + (q0 + i) * g.q_stride + h * d;
      const auto [begin, end] = g.visible(i, lq, lk);
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t j = begin; j < end; ++j) {
        const float* k = keys + j * ks;
        double dot = 0;
        for (size_t c = 0; c < d; ++c) dot += double{q[c]} * double{k[c]};
        s[j] = dot * g.scale;
        m = std::max(m, s[j]);
      }
      double l = 0;
      for (int64_t j = begin; j < end; ++j) l += (s[j] = std::exp(s[j] - m));
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t j = begin; j < end; ++j) {
        const float* v = values + j * vs;
        for (size_t c = 0; c < d; ++c) acc[c] += s[j] * double{v[c]};
      }
      // A row with no visible key (begin == end) has l == 0: zeros, never 0/0.
      const double inv = end > begin ? 1.0 / l : 0.0;
      float* out = a.out + (q0 + i) * g.out_stride + h * d;
      for (size_t c = 0; c < d; ++c) out[c] = static_cast<float>(acc[c] * inv);
      if (probs) {
        float* row = probs + i * lk;
        for (int64_t j = 0; j < lk; ++j)
          row[j] = j >= begin && j < end ? static_cast<float>(s[j] * inv) : 0.0f;
      }
    }
  });
}

}  // namespace qkv::attention
