// Driver of the flash kernel: checks the call, packs K^T and V once per (sequence, kv head,
// key block), then runs one task per (sequence, query head, query block) on oneTBB.
#include "flash_attention.hpp"

#include "attention_args.hpp"
#include "flash_block.hpp"

#include <hwy/aligned_allocator.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>

#include <cmath>
#include <numbers>
#include <vector>

namespace qkv::attention {
namespace flash {
void attend_block(const BlockTask& t);  // flash_kernels.cpp
const char* target_name();
}  // namespace flash

using namespace flash;

namespace {

struct QueryTask {
  uint32_t b, h;
  int64_t row0;
};

// K transposed to [head_dim][kBlockK] and V to [kBlockK][padded_dim], zero-padded.
void pack_block(const float* k, size_t k_stride, const float* v, size_t v_stride, int64_t n,
                int dim, int pdim, float* kt, float* vp) {
  for (int64_t j = 0; j < kBlockK; ++j) {
    float* vr = vp + j * pdim;
    if (j < n) {
      const float* kr = k + j * k_stride;
      const float* vs = v + j * v_stride;
      for (int c = 0; c < dim; ++c) kt[c * kBlockK + j] = kr[c];
      for (int c = 0; c < dim; ++c) vr[c] = vs[c];
      for (int c = dim; c < pdim; ++c) vr[c] = 0.0f;
    } else {
      for (int c = 0; c < dim; ++c) kt[c * kBlockK + j] = 0.0f;
      for (int c = 0; c < pdim; ++c) vr[c] = 0.0f;
    }
  }
}

}  // namespace

const char* flash_target_name() { return target_name(); }

void flash_forward(const qkv_attention_args& a) {
  const Geometry g = check_args(a);
  const int dim = static_cast<int>(g.head_dim);
  const int pdim = static_cast<int>(round_up(g.head_dim, kPadD));
  const size_t kt_block = size_t(dim) * kBlockK, v_block = size_t(kBlockK) * pdim;

  // Global key-block numbering: sequence b owns blocks [first_kb[b], first_kb[b+1]).
  std::vector<size_t> first_kb(g.batch + 1, 0);
  std::vector<uint32_t> kb_seq;
  for (uint32_t b = 0; b < g.batch; ++b) {
    const int64_t lk = a.cu_seqlens_k[b + 1] - a.cu_seqlens_k[b];
    const size_t n = static_cast<size_t>((lk + kBlockK - 1) / kBlockK);
    first_kb[b + 1] = first_kb[b] + n;
    kb_seq.insert(kb_seq.end(), n, b);
  }
  const size_t total_kb = first_kb[g.batch];
  auto kt = hwy::AllocateAligned<float>(std::max<size_t>(1, total_kb * g.heads_kv * kt_block));
  auto vp = hwy::AllocateAligned<float>(std::max<size_t>(1, total_kb * g.heads_kv * v_block));
  if (!kt || !vp) throw std::bad_alloc();

  // Packed layout [kv head][global key block], so one (sequence, kv head) is contiguous.
  tbb::parallel_for(size_t{0}, total_kb * g.heads_kv, [&](size_t i) {
    const size_t hk = i / total_kb, gkb = i % total_kb, b = kb_seq[gkb];
    const int64_t k0 = a.cu_seqlens_k[b], lk = a.cu_seqlens_k[b + 1] - k0;
    const int64_t j0 = int64_t(gkb - first_kb[b]) * kBlockK;
    const size_t row = size_t(k0 + j0);
    pack_block(a.k + row * g.k_stride + hk * dim, g.k_stride, a.v + row * g.v_stride + hk * dim,
               g.v_stride, std::min<int64_t>(kBlockK, lk - j0), dim, pdim,
               kt.get() + i * kt_block, vp.get() + i * v_block);
  });

  std::vector<QueryTask> tasks;
  for (uint32_t b = 0; b < g.batch; ++b) {
    const int64_t lq = a.cu_seqlens_q[b + 1] - a.cu_seqlens_q[b];
    for (uint32_t h = 0; h < g.heads_q; ++h)
      for (int64_t r = 0; r < lq; r += kBlockQ) tasks.push_back({b, h, r});
  }
  const float qscale = g.scale * static_cast<float>(std::numbers::log2e);
  tbb::parallel_for(
      tbb::blocked_range<size_t>(0, tasks.size(), 1),
      [&](const tbb::blocked_range<size_t>& range) {
        for (size_t i = range.begin(); i != range.end(); ++i) {
          const QueryTask& qt = tasks[i];
          const int64_t q0 = a.cu_seqlens_q[qt.b], lq = a.cu_seqlens_q[qt.b + 1] - q0;
          const int64_t k0 = a.cu_seqlens_k[qt.b], lk = a.cu_seqlens_k[qt.b + 1] - k0;
          const size_t hk = qt.h / g.group, row = size_t(q0 + qt.row0);
          const size_t kv_base = hk * total_kb + first_kb[qt.b];
          BlockTask t{};
          t.q = a.q + row * g.q_stride + size_t(qt.h) * dim;
          t.q_stride = g.q_stride;
          t.out = a.out + row * g.out_stride + size_t(qt.h) * dim;
          t.out_stride = g.out_stride;
          t.probs = a.probs ? a.probs + g.probs_offset[qt.b] + (size_t(qt.h) * lq + qt.row0) * lk
                            : nullptr;
          t.rows = static_cast<int>(std::min<int64_t>(kBlockQ, lq - qt.row0));
          t.row0 = qt.row0;
          t.lq = lq;
          t.lk = lk;
          t.head_dim = dim;
          t.padded_dim = pdim;
          t.causal = g.causal;
          t.qscale = qscale;
          t.kv = {kt.get() + kv_base * kt_block, vp.get() + kv_base * v_block, kt_block, v_block};
          attend_block(t);
        }
      },
      tbb::simple_partitioner());
}

}  // namespace qkv::attention
