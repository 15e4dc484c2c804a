// Sliding windows as calls the flash kernels run exactly. When no sequence has more keys than
// the window, the window hides nothing: the call is causal. Otherwise every query row becomes
// its own one-query sequence over exactly the keys it sees, read in place through per-sequence
// K/V bases (the ABI 1.1 fields), with no mask. Queries and outputs keep their rows, so only
// the probabilities (if asked for) are scattered back. Decode steps (one query per sequence)
// lose nothing this way; a long prefill runs one-row tasks, slower than the kernels' blocks.
#include "flash_window.hpp"

#include "flash_attention.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace qkv::attention {

void flash_sliding_window(const qkv_attention_args& a, const sdk::AttentionGeometry& g) {
  int64_t longest = 0;
  for (uint32_t b = 0; b < g.batch; ++b)
    longest = std::max<int64_t>(longest, a.cu_seqlens_k[b + 1] - a.cu_seqlens_k[b]);
  qkv_attention_args rows = a;
  rows.struct_size = sizeof rows;
  rows.window = 0;
  if (longest <= int64_t{g.window}) {
    rows.mask = QKV_MASK_CAUSAL;
    flash_forward(rows);
    return;
  }

  const size_t n = size_t(a.cu_seqlens_q[g.batch]);
  std::vector<int32_t> cu_q(n + 1), cu_k(n + 1, 0);
  std::vector<const float*> k_seqs(n), v_seqs(n);
  std::vector<size_t> k_strides(n), v_strides(n);
  std::vector<sdk::KeyRange> seen(n);
  for (uint32_t b = 0; b < g.batch; ++b) {
    const int64_t q0 = a.cu_seqlens_q[b], lq = a.cu_seqlens_q[b + 1] - q0;
    const int64_t lk = a.cu_seqlens_k[b + 1] - a.cu_seqlens_k[b];
    for (int64_t i = 0; i < lq; ++i) {
      const size_t r = size_t(q0 + i);
      const sdk::KeyRange keys = g.visible(i, lq, lk);
      seen[r] = keys;
      cu_q[r + 1] = int32_t(r + 1);
      const int64_t total = int64_t{cu_k[r]} + (keys.end - keys.begin);
      if (total > INT32_MAX)
        throw std::invalid_argument(
            "attention: sliding window: more than 2^31 visible keys in "
            "one call; split the batch");
      cu_k[r + 1] = int32_t(total);
      const bool any = keys.end > keys.begin;
      k_seqs[r] = any ? g.k0[b] + size_t(keys.begin) * g.k_stride[b] : nullptr;
      v_seqs[r] = any ? g.v0[b] + size_t(keys.begin) * g.v_stride[b] : nullptr;
      k_strides[r] = g.k_stride[b];
      v_strides[r] = g.v_stride[b];
    }
  }
  rows.mask = QKV_MASK_NONE;
  rows.batch = uint32_t(n);
  rows.cu_seqlens_q = cu_q.data();
  rows.cu_seqlens_k = cu_k.data();
  rows.k_seqs = k_seqs.data();
  rows.v_seqs = v_seqs.data();
  rows.k_seq_strides = k_strides.data();
  rows.v_seq_strides = v_strides.data();
  rows.k = rows.v = nullptr;
  // One-row probabilities: row r, head h is [h][seen keys] inside block r.
  std::vector<float> row_probs(a.probs ? size_t(cu_k[n]) * g.heads_q : 0);
  rows.probs = a.probs ? row_probs.data() : nullptr;
  flash_forward(rows);
  if (!a.probs) return;

  std::fill(a.probs, a.probs + g.probs_offset[g.batch], 0.0f);
  for (uint32_t b = 0; b < g.batch; ++b) {
    const int64_t q0 = a.cu_seqlens_q[b], lq = a.cu_seqlens_q[b + 1] - q0;
    const int64_t lk = a.cu_seqlens_k[b + 1] - a.cu_seqlens_k[b];
    for (int64_t i = 0; i < lq; ++i) {
      const size_t r = size_t(q0 + i);
      const int64_t width = seen[r].end - seen[r].begin;
      for (uint32_t h = 0; h < g.heads_q; ++h) {
        const float* from = row_probs.data() + size_t(cu_k[r]) * g.heads_q + h * size_t(width);
        float* to = a.probs + g.probs_offset[b] + (size_t(h) * lq + i) * lk + seen[r].begin;
        std::copy(from, from + width, to);
      }
    }
  }
}

}  // namespace qkv::attention
