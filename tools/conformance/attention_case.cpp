#include "attention_case.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace qkv::conformance {

std::string AttentionShape::describe() const {
  std::ostringstream s;
  s << "heads " << heads_q << "/" << heads_kv << ", head_dim " << head_dim << ", mask "
    << (mask == QKV_MASK_CAUSAL           ? "causal"
        : mask == QKV_MASK_SLIDING_WINDOW ? "sliding window " + std::to_string(window)
                                          : std::string("none"))
    << ", scale " << scale << ", Lq [";
  for (size_t i = 0; i < lq.size(); ++i) s << (i ? "," : "") << lq[i];
  s << "], Lk [";
  for (size_t i = 0; i < lk.size(); ++i) s << (i ? "," : "") << lk[i];
  s << "]" << (pad ? ", padded rows" : "") << (caches ? ", per-sequence K/V caches" : "");
  return s.str();
}

AttentionCase::AttentionCase(AttentionShape s, std::mt19937_64& rng) : shape(std::move(s)) {
  cu_q.assign(1, 0);
  cu_k.assign(1, 0);
  for (size_t b = 0; b < shape.lq.size(); ++b) {
    cu_q.push_back(cu_q.back() + shape.lq[b]);
    cu_k.push_back(cu_k.back() + shape.lk[b]);
  }
  q_stride = size_t{shape.heads_q} * shape.head_dim + shape.pad;
  kv_stride = size_t{shape.heads_kv} * shape.head_dim + shape.pad;
  std::normal_distribution<float> dist(0.0f, 1.0f);
  auto fill = [&](std::vector<float>& x, size_t n) {
    x.resize(n);
    for (auto& e : x) e = dist(rng);
  };
  fill(q, static_cast<size_t>(cu_q.back()) * q_stride);
  fill(k, static_cast<size_t>(cu_k.back()) * kv_stride);
  fill(v, static_cast<size_t>(cu_k.back()) * kv_stride);
  if (!shape.caches) return;
  for (size_t b = 0; b < shape.lk.size(); ++b) {
    const auto from = static_cast<std::ptrdiff_t>(size_t(cu_k[b]) * kv_stride);
    const auto to = static_cast<std::ptrdiff_t>(size_t(cu_k[b + 1]) * kv_stride);
    k_cache.emplace_back(k.begin() + from, k.begin() + to);
    v_cache.emplace_back(v.begin() + from, v.begin() + to);
  }
  for (size_t b = 0; b < k_cache.size(); ++b) {
    k_seqs.push_back(k_cache[b].empty() ? nullptr : k_cache[b].data());
    v_seqs.push_back(v_cache[b].empty() ? nullptr : v_cache[b].data());
  }
}

size_t AttentionCase::probs_size() const {
  size_t n = 0;
  for (size_t b = 0; b < shape.lq.size(); ++b)
    n +=
        size_t{shape.heads_q} * static_cast<size_t>(shape.lq[b]) * static_cast<size_t>(shape.lk[b]);
  return n;
}

qkv_attention_args AttentionCase::args(float* out, float* probs, bool via_caches) const {
  qkv_attention_args a{};
  a.struct_size = sizeof a;
  a.batch = static_cast<uint32_t>(shape.lq.size());
  a.heads_q = shape.heads_q;
  a.heads_kv = shape.heads_kv;
  a.head_dim = shape.head_dim;
  a.mask = shape.mask;
  a.scale = shape.scale;
  a.cu_seqlens_q = cu_q.data();
  a.cu_seqlens_k = cu_k.data();
  a.q = q.data();
  a.k = k.data();
  a.v = v.data();
  a.out = out;
  a.probs = probs;
  // Packed rows say 0 (the default); padded rows give their stride explicitly.
  a.q_stride = a.out_stride = shape.pad ? q_stride : 0;
  a.k_stride = a.v_stride = shape.pad ? kv_stride : 0;
  a.window = shape.window;
  if (via_caches && shape.caches) {
    a.k = a.v = nullptr;
    a.k_seqs = k_seqs.data();
    a.v_seqs = v_seqs.data();
  }
  return a;
}

std::optional<std::string> compare(const AttentionCase& c, const std::vector<float>& actual,
                                   const std::vector<float>& ref, const std::string& what) {
  const size_t row = size_t{c.shape.heads_q} * c.shape.head_dim;
  float max_ref = 0;
  for (int32_t t = 0; t < c.cu_q.back(); ++t)
    for (size_t i = 0; i < row; ++i)
      max_ref = std::max(max_ref, std::fabs(ref[t * c.q_stride + i]));
  const double tol = 1e-5 + 1e-4 * max_ref;
  for (int32_t t = 0; t < c.cu_q.back(); ++t) {
    for (size_t i = 0; i < row; ++i) {
      const float a = actual[t * c.q_stride + i], r = ref[t * c.q_stride + i];
      if (!std::isfinite(a) || !(std::fabs(double{a} - r) <= tol)) {
        std::ostringstream s;
        s << what << ": out[token " << t << ", head " << i / c.shape.head_dim << ", dim "
          << i % c.shape.head_dim << "] = " << a << ", reference " << r << " (tolerance " << tol
          << "); case: " << c.shape.describe();
        return s.str();
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> compare_flat(const std::vector<float>& actual,
                                        const std::vector<float>& ref, const std::string& what) {
  float max_ref = 0;
  for (float r : ref) max_ref = std::max(max_ref, std::fabs(r));
  const double tol = 1e-5 + 1e-4 * max_ref;
  for (size_t i = 0; i < ref.size(); ++i)
    if (!std::isfinite(actual[i]) || !(std::fabs(double{actual[i]} - ref[i]) <= tol))
      return what + ": element " + std::to_string(i) + " = " + std::to_string(actual[i]) +
             ", reference " + std::to_string(ref[i]);
  return std::nullopt;
}

}  // namespace qkv::conformance
