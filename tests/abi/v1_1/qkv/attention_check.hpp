// qkv plugin SDK: the one check of a qkv_attention_args call, header-only. The host runs it
// before a call crosses the ABI, and attention plugins run it and read the call through the
// geometry it returns (defaults resolved, per-sequence K/V bases, visible key ranges), so every
// side agrees on what a well-formed call is.
#ifndef QKV_ATTENTION_CHECK_HPP
#define QKV_ATTENTION_CHECK_HPP

#include <qkv/abi.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace qkv::sdk {

// Size of the ABI 1.0 qkv_attention_args (its last field is out_stride): the least a caller
// may pass. Fields past a call's struct_size read as zero (unused).
inline constexpr size_t kAttentionArgsV1_0 =
    offsetof(qkv_attention_args, out_stride) + sizeof(size_t);

// Keys [begin, end) of its sequence that query i (of lq queries, lk keys) sees.
struct KeyRange {
  int64_t begin = 0, end = 0;
};

// Bottom-right aligned masks (see qkv_mask_kind): query i stands at key i' = i + lk - lq.
inline KeyRange visible_keys(uint32_t mask, uint32_t window, int64_t i, int64_t lq, int64_t lk) {
  if (mask == QKV_MASK_NONE) return {0, lk};
  const int64_t newest = i + lk - lq;
  const int64_t end = std::clamp<int64_t>(newest + 1, 0, lk);
  const int64_t begin =
      mask == QKV_MASK_SLIDING_WINDOW ? std::clamp<int64_t>(newest + 1 - window, 0, end) : 0;
  return {begin, end};
}

namespace detail {

// The 1.1 fields of `a`, zero when the caller's struct_size does not cover them.
struct AppendedArgs {
  uint32_t window = 0;
  const float* const* k_seqs = nullptr;
  const float* const* v_seqs = nullptr;
  const size_t* k_seq_strides = nullptr;
  const size_t* v_seq_strides = nullptr;
};

inline AppendedArgs appended(const qkv_attention_args& a) {
  AppendedArgs r;
  if (QKV_STRUCT_HAS(&a, qkv_attention_args, window)) r.window = a.window;
  if (QKV_STRUCT_HAS(&a, qkv_attention_args, v_seqs)) {
    r.k_seqs = a.k_seqs;
    r.v_seqs = a.v_seqs;
  }
  if (QKV_STRUCT_HAS(&a, qkv_attention_args, v_seq_strides)) {
    r.k_seq_strides = a.k_seq_strides;
    r.v_seq_strides = a.v_seq_strides;
  }
  return r;
}

inline std::string cu_error(const int32_t* cu, uint32_t batch, const char* name) {
  if (!cu) return std::string(name) + " is NULL";
  if (cu[0] != 0) return std::string(name) + "[0] must be 0, got " + std::to_string(cu[0]);
  for (uint32_t b = 0; b < batch; ++b)
    if (cu[b + 1] < cu[b])
      return std::string(name) + " decreases at index " + std::to_string(b + 1) + " (" +
             std::to_string(cu[b]) + " -> " + std::to_string(cu[b + 1]) + ")";
  return {};
}

inline std::string stride_error(size_t stride, size_t row, const std::string& name) {
  if (stride == 0 || stride >= row) return {};
  return name + " (" + std::to_string(stride) + ") is less than heads*head_dim (" +
         std::to_string(row) + ")";
}

}  // namespace detail

// Empty when `a` is a well-formed call, else what is wrong, naming the field.
inline std::string attention_args_error(const qkv_attention_args& a) {
  using detail::cu_error;
  using detail::stride_error;
  if (a.struct_size < kAttentionArgsV1_0) return "qkv_attention_args.struct_size too small";
  if (a.heads_q == 0 || a.heads_kv == 0) return "heads_q and heads_kv must be positive";
  if (a.heads_q % a.heads_kv != 0)
    return "heads_q (" + std::to_string(a.heads_q) + ") is not a multiple of heads_kv (" +
           std::to_string(a.heads_kv) + ")";
  if (a.head_dim == 0) return "head_dim must be positive";
  const detail::AppendedArgs x = detail::appended(a);
  if (a.mask == QKV_MASK_SLIDING_WINDOW) {
    if (!QKV_STRUCT_HAS(&a, qkv_attention_args, window))
      return "mask QKV_MASK_SLIDING_WINDOW needs the ABI 1.1 field 'window' (struct_size too "
             "small)";
    if (x.window == 0) return "mask QKV_MASK_SLIDING_WINDOW needs window >= 1";
  } else if (a.mask != QKV_MASK_NONE && a.mask != QKV_MASK_CAUSAL) {
    return "unknown mask kind " + std::to_string(a.mask);
  }
  if (!std::isfinite(a.scale)) return "scale is not finite";
  if (std::string e = cu_error(a.cu_seqlens_q, a.batch, "cu_seqlens_q"); !e.empty()) return e;
  if (std::string e = cu_error(a.cu_seqlens_k, a.batch, "cu_seqlens_k"); !e.empty()) return e;

  const size_t qrow = size_t{a.heads_q} * a.head_dim, kvrow = size_t{a.heads_kv} * a.head_dim;
  for (auto [stride, row, name] :
       {std::tuple{a.q_stride, qrow, "q_stride"}, std::tuple{a.k_stride, kvrow, "k_stride"},
        std::tuple{a.v_stride, kvrow, "v_stride"}, std::tuple{a.out_stride, qrow, "out_stride"}})
    if (std::string e = stride_error(stride, row, name); !e.empty()) return e;

  if (a.cu_seqlens_q[a.batch] > 0 && (!a.q || !a.out)) return "q or out is NULL";
  if (!x.k_seqs != !x.v_seqs) return "k_seqs and v_seqs must be set together";
  if (!x.k_seqs) {
    if (a.cu_seqlens_k[a.batch] > 0 && (!a.k || !a.v)) return "k or v is NULL";
    if (x.k_seq_strides || x.v_seq_strides)
      return "k_seq_strides / v_seq_strides need k_seqs and v_seqs";
    return {};
  }
  for (uint32_t b = 0; b < a.batch; ++b) {
    // Built with append, not operator+ on a literal (GCC 12 warns falsely there, -Wrestrict).
    auto field = [b](const char* name) {
      std::string f(name);
      f.append("[").append(std::to_string(b)).append("]");
      return f;
    };
    if (a.cu_seqlens_k[b + 1] > a.cu_seqlens_k[b] && (!x.k_seqs[b] || !x.v_seqs[b]))
      return field("k_seqs").append(" or ").append(field("v_seqs")).append(" is NULL");
    if (x.k_seq_strides)
      if (std::string e = stride_error(x.k_seq_strides[b], kvrow, field("k_seq_strides"));
          !e.empty())
        return e;
    if (x.v_seq_strides)
      if (std::string e = stride_error(x.v_seq_strides[b], kvrow, field("v_seq_strides"));
          !e.empty())
        return e;
  }
  return {};
}

// A checked call with its defaults resolved: what an attention kernel reads.
struct AttentionGeometry {
  uint32_t batch = 0, heads_q = 0, heads_kv = 0, head_dim = 0;
  uint32_t group = 1;  // heads_q / heads_kv: query head h reads kv head h / group
  uint32_t mask = QKV_MASK_NONE;
  uint32_t window = 0;  // QKV_MASK_SLIDING_WINDOW only
  float scale = 0;
  size_t q_stride = 0, out_stride = 0;
  // Per sequence b: key 0 / value 0 (kv head 0), the row strides of its keys and values, and
  // the first float of its probs block.
  std::vector<const float*> k0, v0;
  std::vector<size_t> k_stride, v_stride;
  std::vector<size_t> probs_offset;  // batch + 1 entries

  KeyRange visible(int64_t i, int64_t lq, int64_t lk) const {
    return visible_keys(mask, window, i, lq, lk);
  }
};

// Checks `a` and resolves it; throws std::invalid_argument("attention: ...") naming the field
// (qkv::sdk's trampolines turn that into QKV_ERR_INVALID_ARGUMENT).
inline AttentionGeometry attention_geometry(const qkv_attention_args& a) {
  if (std::string e = attention_args_error(a); !e.empty())
    throw std::invalid_argument("attention: " + e);
  const detail::AppendedArgs x = detail::appended(a);
  AttentionGeometry g;
  g.batch = a.batch;
  g.heads_q = a.heads_q;
  g.heads_kv = a.heads_kv;
  g.head_dim = a.head_dim;
  g.group = a.heads_q / a.heads_kv;
  g.mask = a.mask;
  g.window = a.mask == QKV_MASK_SLIDING_WINDOW ? x.window : 0;
  g.scale = a.scale != 0.0f ? a.scale : 1.0f / std::sqrt(static_cast<float>(a.head_dim));
  const size_t qrow = size_t{a.heads_q} * a.head_dim, kvrow = size_t{a.heads_kv} * a.head_dim;
  auto packed = [](size_t stride, size_t row) { return stride ? stride : row; };
  g.q_stride = packed(a.q_stride, qrow);
  g.out_stride = packed(a.out_stride, qrow);
  g.k0.resize(a.batch);
  g.v0.resize(a.batch);
  g.k_stride.resize(a.batch);
  g.v_stride.resize(a.batch);
  g.probs_offset.resize(a.batch + 1, 0);
  for (uint32_t b = 0; b < a.batch; ++b) {
    const int32_t k_begin = a.cu_seqlens_k[b];
    const size_t lq = size_t(a.cu_seqlens_q[b + 1] - a.cu_seqlens_q[b]);
    const size_t lk = size_t(a.cu_seqlens_k[b + 1] - k_begin);
    if (x.k_seqs) {
      g.k_stride[b] = packed(x.k_seq_strides ? x.k_seq_strides[b] : a.k_stride, kvrow);
      g.v_stride[b] = packed(x.v_seq_strides ? x.v_seq_strides[b] : a.v_stride, kvrow);
      g.k0[b] = x.k_seqs[b];
      g.v0[b] = x.v_seqs[b];
    } else {
      g.k_stride[b] = packed(a.k_stride, kvrow);
      g.v_stride[b] = packed(a.v_stride, kvrow);
      g.k0[b] = lk ? a.k + size_t(k_begin) * g.k_stride[b] : nullptr;
      g.v0[b] = lk ? a.v + size_t(k_begin) * g.v_stride[b] : nullptr;
    }
    g.probs_offset[b + 1] = g.probs_offset[b] + size_t{a.heads_q} * lq * lk;
  }
  return g;
}

}  // namespace qkv::sdk

#endif  // QKV_ATTENTION_CHECK_HPP
