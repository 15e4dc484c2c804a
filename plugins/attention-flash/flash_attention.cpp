// Driver of the flash kernel: checks the call and runs tasks of one or two query blocks of one
// (sequence, query head) on oneTBB. K and V are read in place by the kernels (see
// flash_kernels.cpp). Causal tasks pair block i with block n-1-i, so every task has about the
// same unmasked area (work) and the threads finish together.
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

// Query blocks row0[0] and, when row0[1] >= 0, row0[1] of sequence b, head h.
struct QueryTask {
  uint32_t b, h;
  int64_t row0[2];
  double area;  // visible (query, key) pairs: the task's work
};

// Visible (query, key) pairs of query rows [r0, r1) of a sequence (bottom-right causal).
double causal_area(int64_t r0, int64_t r1, int64_t lq, int64_t lk) {
  double sum = 0;
  for (int64_t i = r0; i < r1; ++i) sum += double(std::clamp<int64_t>(i + lk - lq + 1, 0, lk));
  return sum;
}

std::vector<QueryTask> make_tasks(const qkv_attention_args& a, const sdk::AttentionGeometry& g,
                                  bool causal, int64_t rows_per_block) {
  std::vector<QueryTask> tasks;
  for (uint32_t b = 0; b < g.batch; ++b) {
    const int64_t lq = a.cu_seqlens_q[b + 1] - a.cu_seqlens_q[b];
    const int64_t lk = a.cu_seqlens_k[b + 1] - a.cu_seqlens_k[b];
    const int64_t blocks = (lq + rows_per_block - 1) / rows_per_block;
    auto area = [&](int64_t blk) {
      const int64_t r0 = blk * rows_per_block, r1 = std::min<int64_t>(lq, r0 + rows_per_block);
      return causal ? causal_area(r0, r1, lq, lk) : double(r1 - r0) * double(lk);
    };
    for (uint32_t h = 0; h < g.heads_q; ++h) {
      if (!causal) {
        for (int64_t blk = 0; blk < blocks; ++blk)
          tasks.push_back({b, h, {blk * rows_per_block, -1}, area(blk)});
        continue;
      }
      // Causal: the work of block i grows with i; i and blocks-1-i together are ~constant.
      for (int64_t lo = 0, hi = blocks - 1; lo <= hi; ++lo, --hi) {
        if (lo == hi)
          tasks.push_back({b, h, {lo * rows_per_block, -1}, area(lo)});
        else
          tasks.push_back({b, h, {hi * rows_per_block, lo * rows_per_block}, area(hi) + area(lo)});
      }
    }
  }
  // Largest first, so the last tasks to start are short (sequences of different lengths).
  std::stable_sort(tasks.begin(), tasks.end(),
                   [](const QueryTask& x, const QueryTask& y) { return x.area > y.area; });
  return tasks;
}

}  // namespace

const char* flash_target_name() { return flash::target_name(); }

void flash_forward(const qkv_attention_args& a) {
  const sdk::AttentionGeometry g = sdk::attention_geometry(a);
  if (g.mask == QKV_MASK_SLIDING_WINDOW) return flash_sliding_window(a, g);
  const bool causal = g.mask == QKV_MASK_CAUSAL;
  const size_t dim = g.head_dim;
  const int64_t rows_per_block = flash::block_rows();  // per SIMD target
  const std::vector<QueryTask> tasks = make_tasks(a, g, causal, rows_per_block);
  const float qscale = g.scale * static_cast<float>(std::numbers::log2e);
  tbb::parallel_for(
      tbb::blocked_range<size_t>(0, tasks.size(), 1),
      [&](const tbb::blocked_range<size_t>& range) {
        for (size_t i = range.begin(); i != range.end(); ++i)
          for (const int64_t row0 : tasks[i].row0) {
            if (row0 < 0) continue;
            const QueryTask& qt = tasks[i];
            const int64_t q0 = a.cu_seqlens_q[qt.b], lq = a.cu_seqlens_q[qt.b + 1] - q0;
            const int64_t lk = a.cu_seqlens_k[qt.b + 1] - a.cu_seqlens_k[qt.b];
            const size_t hk = qt.h / g.group, row = size_t(q0 + row0);
            flash::BlockTask t{};
            t.q = a.q + row * g.q_stride + qt.h * dim;
            t.q_stride = g.q_stride;
            t.k = lk ? g.k0[qt.b] + hk * dim : nullptr;
            t.k_stride = g.k_stride[qt.b];
            t.v = lk ? g.v0[qt.b] + hk * dim : nullptr;
            t.v_stride = g.v_stride[qt.b];
            t.out = a.out + row * g.out_stride + qt.h * dim;
            t.out_stride = g.out_stride;
            t.probs = a.probs ? a.probs + g.probs_offset[qt.b] + (size_t(qt.h) * lq + row0) * lk
                              : nullptr;
            t.rows = static_cast<int>(std::min<int64_t>(rows_per_block, lq - row0));
            t.row0 = row0;
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
