// Driver of the flash kernel: checks the call and runs one task per (sequence, query head,
// query block) on oneTBB. K and V are read in place by the kernels (see flash_kernels.cpp).
#include "flash_attention.hpp"

#include "flash_block.hpp"
#include "flash_window.hpp"

#include <qkv/attention_check.hpp>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>

#include <algorithm>
#include <numbers>
#include <vector>

namespace qkv::attention {
namespace flash {
void attend_block(const BlockTask& t);  // flash_kernels.cpp
const char* target_name();
}  // namespace flash

namespace {

struct QueryTask {
  uint32_t b, h;
  int64_t row0;
};

}  // namespace

const char* flash_target_name() { return flash::target_name(); }

void flash_forward(const qkv_attention_args& a) {
  using flash::kBlockQ;
  const sdk::AttentionGeometry g = sdk::attention_geometry(a);
  if (g.mask == QKV_MASK_SLIDING_WINDOW) return flash_sliding_window(a, g);
  const bool causal = g.mask == QKV_MASK_CAUSAL;
  const size_t dim = g.head_dim;
  // Causal blocks late in a sequence cost the most: they go first so the tail is short.
  std::vector<QueryTask> tasks;
  for (uint32_t b = 0; b < g.batch; ++b) {
    const int64_t lq = a.cu_seqlens_q[b + 1] - a.cu_seqlens_q[b];
    for (uint32_t h = 0; h < g.heads_q; ++h)
      for (int64_t r = 0; r < lq; r += kBlockQ) tasks.push_back({b, h, r});
  }
  if (causal)
    std::stable_sort(tasks.begin(), tasks.end(),
                     [](const QueryTask& x, const QueryTask& y) { return x.row0 > y.row0; });
  const float qscale = g.scale * static_cast<float>(std::numbers::log2e);
  tbb::parallel_for(
      tbb::blocked_range<size_t>(0, tasks.size(), 1),
      [&](const tbb::blocked_range<size_t>& range) {
        for (size_t i = range.begin(); i != range.end(); ++i) {
          const QueryTask& qt = tasks[i];
          const int64_t q0 = a.cu_seqlens_q[qt.b], lq = a.cu_seqlens_q[qt.b + 1] - q0;
          const int64_t lk = a.cu_seqlens_k[qt.b + 1] - a.cu_seqlens_k[qt.b];
          const size_t hk = qt.h / g.group, row = size_t(q0 + qt.row0);
          flash::BlockTask t{};
          t.q = a.q + row * g.q_stride + qt.h * dim;
          t.q_stride = g.q_stride;
          t.k = lk ? g.k0[qt.b] + hk * dim : nullptr;
          t.k_stride = g.k_stride[qt.b];
          t.v = lk ? g.v0[qt.b] + hk * dim : nullptr;
          t.v_stride = g.v_stride[qt.b];
          t.out = a.out + row * g.out_stride + qt.h * dim;
          t.out_stride = g.out_stride;
          t.probs = a.probs ? a.probs + g.probs_offset[qt.b] + (size_t(qt.h) * lq + qt.row0) * lk
                            : nullptr;
          t.rows = static_cast<int>(std::min<int64_t>(kBlockQ, lq - qt.row0));
          t.row0 = qt.row0;
          t.lq = lq;
          t.lk = lk;
          t.head_dim = static_cast<int>(dim);
          t.causal = causal;
          t.qscale = qscale;
          flash::attend_block(t);
        }
      },
      tbb::simple_partitioner());
}

}  // namespace qkv::attention
