#include "model/heads.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "model/transformer.hpp"

namespace qkv::model {

namespace {
constexpr size_t kLogitRows = 64;  // logits are made in blocks of rows: bounded memory

// Calls fn(row0, rows, logits) for blocks of rows; logits is [rows, vocab].
template <class Fn>
void for_logit_blocks(GemmKernel gemm, const Linear& head, std::span<const float> hidden, Fn fn) {
  const size_t d = head.in, T = hidden.size() / d;
  const size_t blocks = (T + kLogitRows - 1) / kLogitRows;
  std::vector<float> logits;
  for (size_t bl = 0; bl < blocks; ++bl) {
    const size_t r0 = bl * kLogitRows, rows = std::min(kLogitRows, T - r0);
    logits.resize(rows * head.out);
    apply_linear(gemm, head, hidden.data() + r0 * d, rows, d, logits.data(), head.out);
    fn(r0, rows, logits.data());
  }
}

// The first row of document b that pooling takes (cu[b + 1]: none).
int32_t first_pooled(std::span<const int32_t> cu, std::span<const uint32_t> unpooled, size_t b) {
  if (unpooled.empty()) return cu[b];
  return cu[b] + static_cast<int32_t>(std::min<int64_t>(unpooled[b], cu[b + 1] - cu[b]));
}
}  // namespace

std::vector<float> pool_cls(std::span<const float> hidden, uint32_t d,
                            std::span<const int32_t> cu) {
  const size_t B = cu.size() - 1;
  std::vector<float> out(B * d, 0.0f);
  for (size_t b = 0; b < B; ++b)
    if (cu[b + 1] > cu[b]) std::copy_n(hidden.data() + size_t(cu[b]) * d, d, out.data() + b * d);
  return out;
}

std::vector<float> pool_mean(std::span<const float> hidden, uint32_t d, std::span<const int32_t> cu,
                             std::span<const uint32_t> unpooled) {
  const size_t B = cu.size() - 1;
  std::vector<float> out(B * d, 0.0f);
  std::vector<double> acc(d);
  for (size_t b = 0; b < B; ++b) {
    const int32_t first = first_pooled(cu, unpooled, b), n = cu[b + 1] - first;
    if (n == 0) continue;
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int32_t t = first; t < cu[b + 1]; ++t)
      for (size_t i = 0; i < d; ++i) acc[i] += hidden[size_t(t) * d + i];
    for (size_t i = 0; i < d; ++i) out[b * d + i] = static_cast<float>(acc[i] / n);
  }
  return out;
}

std::vector<float> pool_max(std::span<const float> hidden, uint32_t d, std::span<const int32_t> cu,
                            std::span<const uint32_t> unpooled) {
  const size_t B = cu.size() - 1;
  std::vector<float> out(B * d, 0.0f);
  for (size_t b = 0; b < B; ++b) {
    if (cu[b + 1] == cu[b]) continue;
    float* o = out.data() + b * d;
    const int32_t first = first_pooled(cu, unpooled, b);
    if (first == cu[b + 1]) {  // every row masked: sentence-transformers' fill value
      std::fill_n(o, d, -1e9f);
      continue;
    }
    std::copy_n(hidden.data() + size_t(first) * d, d, o);
    for (int32_t t = first + 1; t < cu[b + 1]; ++t)
      for (size_t i = 0; i < d; ++i) o[i] = std::max(o[i], hidden[size_t(t) * d + i]);
  }
  return out;
}

std::vector<float> pool_last(std::span<const float> hidden, uint32_t d,
                             std::span<const int32_t> cu) {
  const size_t B = cu.size() - 1;
  std::vector<float> out(B * d, 0.0f);
  for (size_t b = 0; b < B; ++b)
    if (cu[b + 1] > cu[b])
      std::copy_n(hidden.data() + size_t(cu[b + 1] - 1) * d, d, out.data() + b * d);
  return out;
}

std::vector<float> finish_embeddings(std::vector<float> pooled, uint32_t d, uint32_t dims,
                                     bool normalize) {
  const size_t rows = d ? pooled.size() / d : 0;
  const uint32_t w = dims == 0 || dims >= d ? d : dims;
  std::vector<float> out(rows * w);
  for (size_t r = 0; r < rows; ++r) {
    const float* in = pooled.data() + r * d;
    float* o = out.data() + r * w;
    double sq = 0;
    for (uint32_t i = 0; i < w; ++i) sq += double(in[i]) * in[i];
    // sentence-transformers Normalize: F.normalize(p=2), whose eps 1e-12 keeps zeros zero.
    const double scale = normalize ? 1.0 / std::max(std::sqrt(sq), 1e-12) : 1.0;
    for (uint32_t i = 0; i < w; ++i) o[i] = static_cast<float>(in[i] * scale);
  }
  return out;
}

namespace {
// Row t of logprobs scores target[t] (from hidden row t - shift); -1: no target. Perplexity is
// over each document's rows that have one.
NextTokenScores score_targets(GemmKernel gemm, const Linear& head, std::span<const float> hidden,
                              std::span<const int32_t> target, size_t shift,
                              std::span<const int32_t> cu) {
  const size_t T = target.size(), V = head.out;
  NextTokenScores s;
  s.logprobs.assign(T, 0.0f);
  for_logit_blocks(gemm, head, hidden, [&](size_t r0, size_t rows, const float* logits) {
    tbb::parallel_for(size_t(0), rows, [&](size_t r) {
      const size_t row = r0 + r + shift;
      if (row >= T || target[row] < 0) return;
      const float* l = logits + r * V;
      const float mx = *std::max_element(l, l + V);
      double sum = 0.0;
      for (size_t j = 0; j < V; ++j) sum += std::exp(double(l[j]) - mx);
      s.logprobs[row] = static_cast<float>(double(l[target[row]]) - mx - std::log(sum));
    });
  });
  for (size_t b = 0; b + 1 < cu.size(); ++b) {
    double total = 0.0;
    int32_t scored = 0;
    for (int32_t t = cu[b]; t < cu[b + 1]; ++t)
      if (target[t] >= 0) total += s.logprobs[t], ++scored;
    s.perplexity.push_back(scored == 0 ? std::numeric_limits<float>::quiet_NaN()
                                       : static_cast<float>(std::exp(-total / scored)));
  }
  return s;
}
}  // namespace

NextTokenScores next_token_scores(GemmKernel gemm, const Linear& head,
                                  std::span<const float> hidden, std::span<const int32_t> ids,
                                  std::span<const int32_t> cu) {
  // target[t]: ids[t], predicted from row t - 1; nothing predicts a document's first row.
  std::vector<int32_t> target(ids.begin(), ids.end());
  for (size_t b = 0; b + 1 < cu.size(); ++b)
    if (cu[b + 1] > cu[b]) target[cu[b]] = -1;
  return score_targets(gemm, head, hidden, target, 1, cu);
}

NextTokenScores label_scores(GemmKernel gemm, const Linear& head, std::span<const float> hidden,
                             std::span<const int32_t> labels, std::span<const int32_t> cu) {
  return score_targets(gemm, head, hidden, labels, 0, cu);
}

TopK top_k_logits(GemmKernel gemm, const Linear& head, std::span<const float> hidden, uint32_t k) {
  const size_t T = hidden.size() / head.in, V = head.out;
  k = static_cast<uint32_t>(std::min<size_t>(k, V));
  TopK out;
  out.logits.resize(T * k);
  out.ids.resize(T * k);
  for_logit_blocks(gemm, head, hidden, [&](size_t r0, size_t rows, const float* logits) {
    tbb::parallel_for(size_t(0), rows, [&](size_t r) {
      const float* l = logits + r * V;
      std::vector<int32_t> idx(V);
      std::iota(idx.begin(), idx.end(), 0);
      std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                        [&](int32_t a, int32_t b) { return l[a] != l[b] ? l[a] > l[b] : a < b; });
      for (uint32_t j = 0; j < k; ++j) {
        out.ids[(r0 + r) * k + j] = idx[j];
        out.logits[(r0 + r) * k + j] = l[idx[j]];
      }
    });
  });
  return out;
}

}  // namespace qkv::model
