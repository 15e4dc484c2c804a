#include "host/call_checks.hpp"

namespace qkv::host {
namespace {

// cu must start at 0 and never decrease; returns the total, or -1 when malformed.
int64_t check_cu(const int32_t* cu, uint32_t batch) {
  if (!cu || cu[0] != 0) return -1;
  for (uint32_t b = 0; b < batch; ++b)
    if (cu[b + 1] < cu[b]) return -1;
  return cu[batch];
}

bool stride_ok(size_t stride, size_t width) { return stride == 0 || stride >= width; }

}  // namespace

std::string check_attention_args(const qkv_attention_args& a) {
  if (a.heads_q == 0 || a.heads_kv == 0 || a.head_dim == 0)
    return "heads_q, heads_kv and head_dim must be positive";
  if (a.heads_q % a.heads_kv != 0)
    return "heads_q (" + std::to_string(a.heads_q) + ") is not a multiple of heads_kv (" +
           std::to_string(a.heads_kv) + ")";
  if (a.mask != QKV_MASK_NONE && a.mask != QKV_MASK_CAUSAL)
    return "unknown mask kind " + std::to_string(a.mask);
  if (a.batch == 0) return {};
  const int64_t tq = check_cu(a.cu_seqlens_q, a.batch);
  const int64_t tk = check_cu(a.cu_seqlens_k, a.batch);
  if (tq < 0 || tk < 0) return "cu_seqlens must start at 0 and never decrease";
  if ((tq > 0 && (!a.q || !a.out)) || (tk > 0 && (!a.k || !a.v)))
    return "q, k, v and out must not be NULL";
  const size_t wq = size_t(a.heads_q) * a.head_dim, wkv = size_t(a.heads_kv) * a.head_dim;
  if (!stride_ok(a.q_stride, wq) || !stride_ok(a.out_stride, wq) || !stride_ok(a.k_stride, wkv) ||
      !stride_ok(a.v_stride, wkv))
    return "a stride is smaller than heads * head_dim";
  return {};
}

std::string check_positional_args(const float* x, size_t row_stride, size_t width,
                                  std::span<const int32_t> positions) {
  if (positions.empty()) return {};
  if (!x || !positions.data()) return "x and positions must not be NULL";
  if (row_stride < width)
    return "row_stride " + std::to_string(row_stride) + " is smaller than a row (" +
           std::to_string(width) + " floats)";
  for (size_t t = 0; t < positions.size(); ++t)
    if (positions[t] < 0)
      return "position " + std::to_string(positions[t]) + " of token " + std::to_string(t) +
             " is negative";
  return {};
}

}  // namespace qkv::host
