// One random packed varlen attention problem, and comparing two plugins' answers to it.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <qkv/abi.h>

namespace qkv::conformance {

struct AttentionShape {
  uint32_t heads_q = 1, heads_kv = 1, head_dim = 32;
  uint32_t mask = QKV_MASK_NONE;
  float scale = 0.0f;           // 0: the default 1/sqrt(head_dim)
  std::vector<int32_t> lq, lk;  // per sequence
  uint32_t pad = 0;             // extra floats per token row (non-packed strides)
  bool probs = false;
  uint32_t window = 0;  // QKV_MASK_SLIDING_WINDOW (ABI 1.1)
  bool caches = false;  // the plugin reads K/V through per-sequence caches (ABI 1.1 k_seqs)

  std::string describe() const;
};

struct AttentionCase {
  AttentionShape shape;
  std::vector<int32_t> cu_q, cu_k;
  std::vector<float> q, k, v;
  size_t q_stride = 0, kv_stride = 0;
  // shape.caches: each sequence's keys / values copied into a buffer of its own.
  std::vector<std::vector<float>> k_cache, v_cache;
  std::vector<const float*> k_seqs, v_seqs;

  AttentionCase(AttentionShape s, std::mt19937_64& rng);
  size_t out_size() const { return static_cast<size_t>(cu_q.back()) * q_stride; }
  size_t probs_size() const;
  // Arguments writing to out (out_size() floats) and probs (probs_size() or null); with
  // `via_caches` (and shape.caches) K/V are passed as per-sequence caches, k and v as NULL.
  qkv_attention_args args(float* out, float* probs, bool via_caches = false) const;
};

// First element of `actual` out of tolerance (|a-b| <= 1e-5 + 1e-4*max|ref|) against `ref`,
// or a NaN/Inf, described with `what`; only elements of real rows are compared.
std::optional<std::string> compare(const AttentionCase& c, const std::vector<float>& actual,
                                   const std::vector<float>& ref, const std::string& what);
std::optional<std::string> compare_flat(const std::vector<float>& actual,
                                        const std::vector<float>& ref, const std::string& what);

}  // namespace qkv::conformance
