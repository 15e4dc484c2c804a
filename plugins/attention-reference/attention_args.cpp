#include "attention_args.hpp"

#include <qkv/plugin.hpp>

#include <cmath>
#include <string>

namespace qkv::attention {
namespace {

[[noreturn]] void bad(const std::string& what) {
  throw sdk::Error(QKV_ERR_INVALID_ARGUMENT, "attention: " + what);
}

void check_cu(const int32_t* cu, uint32_t batch, const char* name) {
  if (!cu) bad(std::string(name) + " is NULL");
  if (cu[0] != 0) bad(std::string(name) + "[0] must be 0, got " + std::to_string(cu[0]));
  for (uint32_t b = 0; b < batch; ++b)
    if (cu[b + 1] < cu[b])
      bad(std::string(name) + " decreases at index " + std::to_string(b + 1) + " (" +
          std::to_string(cu[b]) + " -> " + std::to_string(cu[b + 1]) + ")");
}

size_t resolve_stride(size_t stride, size_t row, const char* name) {
  if (stride == 0) return row;
  if (stride < row)
    bad(std::string(name) + " (" + std::to_string(stride) + ") is less than heads*head_dim (" +
        std::to_string(row) + ")");
  return stride;
}

}  // namespace

Geometry check_args(const qkv_attention_args& a) {
  if (a.struct_size < sizeof(qkv_attention_args)) bad("qkv_attention_args.struct_size too small");
  if (a.heads_q == 0 || a.heads_kv == 0) bad("heads_q and heads_kv must be positive");
  if (a.heads_q % a.heads_kv != 0)
    bad("heads_q (" + std::to_string(a.heads_q) + ") is not a multiple of heads_kv (" +
        std::to_string(a.heads_kv) + ")");
  if (a.head_dim == 0) bad("head_dim must be positive");
  if (a.mask != QKV_MASK_NONE && a.mask != QKV_MASK_CAUSAL)
    bad("unknown mask kind " + std::to_string(a.mask));
  if (!std::isfinite(a.scale)) bad("scale is not finite");
  check_cu(a.cu_seqlens_q, a.batch, "cu_seqlens_q");
  check_cu(a.cu_seqlens_k, a.batch, "cu_seqlens_k");

  Geometry g;
  g.batch = a.batch;
  g.heads_q = a.heads_q;
  g.heads_kv = a.heads_kv;
  g.head_dim = a.head_dim;
  g.group = a.heads_q / a.heads_kv;
  g.causal = a.mask == QKV_MASK_CAUSAL;
  g.scale = a.scale != 0.0f ? a.scale : 1.0f / std::sqrt(static_cast<float>(a.head_dim));
  const size_t qrow = size_t{a.heads_q} * a.head_dim, kvrow = size_t{a.heads_kv} * a.head_dim;
  g.q_stride = resolve_stride(a.q_stride, qrow, "q_stride");
  g.k_stride = resolve_stride(a.k_stride, kvrow, "k_stride");
  g.v_stride = resolve_stride(a.v_stride, kvrow, "v_stride");
  g.out_stride = resolve_stride(a.out_stride, qrow, "out_stride");

  const bool any_q = a.cu_seqlens_q[a.batch] > 0, any_k = a.cu_seqlens_k[a.batch] > 0;
  if (any_q && (!a.q || !a.out)) bad("q or out is NULL");
  if (any_k && (!a.k || !a.v)) bad("k or v is NULL");
  g.probs_offset.resize(a.batch + 1, 0);
  for (uint32_t b = 0; b < a.batch; ++b) {
    const size_t lq = a.cu_seqlens_q[b + 1] - a.cu_seqlens_q[b];
    const size_t lk = a.cu_seqlens_k[b + 1] - a.cu_seqlens_k[b];
    g.probs_offset[b + 1] = g.probs_offset[b] + size_t{a.heads_q} * lq * lk;
  }
  return g;
}

}  // namespace qkv::attention
