// GEMM over fixed tiles of C on oneTBB: B packed once per call, then each tile of C is one
// Highway kernel call (gemm_hwy.cpp).
#include "model/gemm.hpp"

#include "model/gemv.hpp"

#include <tbb/blocked_range2d.h>
#include <tbb/parallel_for.h>

#include <hwy/aligned_allocator.h>

#include <algorithm>

namespace qkv::model {

std::string_view gemm_kernel_name(GemmKernel) { return "highway"; }

GemmKernel default_gemm_kernel() { return GemmKernel::Highway; }

void gemm(GemmKernel, const GemmArgs& g, bool parallel) {
  if (g.m == 0 || g.n == 0) return;
  if (g.m <= kGemvMaxRows) return gemv(g, parallel);  // decode steps: B streamed, not packed
  if (g.k == 0) {
    if (!g.accumulate)
      for (size_t i = 0; i < g.m; ++i) std::fill_n(g.c + i * g.ldc, g.n, 0.0f);
    return;
  }
  const size_t tm = (g.m + kGemmTileM - 1) / kGemmTileM, tn = (g.n + kGemmTileN - 1) / kGemmTileN;
  const size_t slab = ((g.k + kGemmBlockK - 1) / kGemmBlockK) * kGemmBlockK * kGemmTileN;
  auto column = [&](size_t j) {
    GemmArgs c = g;
    c.b = g.b + j * kGemmTileN;
    c.n = std::min(kGemmTileN, g.n - j * kGemmTileN);
    return c;
  };
  if (tm == 1) {
    // One row tile (batched decode steps, up to 96 rows): each column is packed once anyway,
    // so pack it into this thread's slab right before its tile. Packing all of B up front
    // allocated (and page-faulted in) a buffer the size of B on every call: 154 MB for a
    // GPT-2-small LM head, most of a batch-32 decode step. The slab is used only inside this
    // task body, which starts no other tasks, so no nested gemm() can share it.
    auto pack_and_run = [&](size_t j) {
      thread_local hwy::AlignedFreeUniquePtr<float[]> buf;
      thread_local size_t capacity = 0;
      if (capacity < slab) {
        buf = hwy::AllocateAligned<float>(slab);
        capacity = slab;
      }
      GemmArgs c = column(j);
      c.c = g.c + j * kGemmTileN;
      gemm_pack_column_b(c, buf.get());
      gemm_highway_tile(c, buf.get());
    };
    if (!parallel || tn == 1) {
      for (size_t j = 0; j < tn; ++j) pack_and_run(j);
      return;
    }
    tbb::parallel_for(
        tbb::blocked_range<size_t>(0, tn, 1),
        [&](const tbb::blocked_range<size_t>& r) {
          for (size_t j = r.begin(); j < r.end(); ++j) pack_and_run(j);
        },
        tbb::simple_partitioner());
    return;
  }
  // Several row tiles: B is packed once per call and shared by every row tile: packing it per
  // tile re-read the strided weights (L3) once per 96 rows and cost ~20% of the FLOP rate.
  // Allocated per call, not thread_local: a thread waiting in parallel_for may run another
  // gemm() meanwhile.
  const auto packed = hwy::AllocateAligned<float>(tn * slab);
  auto pack = [&](size_t j) { gemm_pack_column_b(column(j), packed.get() + j * slab); };
  auto run = [&](size_t i, size_t j) {
    GemmArgs t = column(j);
    t.m = std::min(kGemmTileM, g.m - i * kGemmTileM);
    t.a = g.a + i * kGemmTileM * g.lda;
    t.c = g.c + i * kGemmTileM * g.ldc + j * kGemmTileN;
    gemm_highway_tile(t, packed.get() + j * slab);
  };
  if (!parallel || tm * tn == 1) {
    for (size_t j = 0; j < tn; ++j) {
      pack(j);
      for (size_t i = 0; i < tm; ++i) run(i, j);
    }
    return;
  }
  tbb::parallel_for(size_t{0}, tn, pack);
  tbb::parallel_for(
      tbb::blocked_range2d<size_t>(0, tm, 1, 0, tn, 1),
      [&](const tbb::blocked_range2d<size_t>& r) {
        for (size_t i = r.rows().begin(); i < r.rows().end(); ++i)
          for (size_t j = r.cols().begin(); j < r.cols().end(); ++j) run(i, j);
      },
      tbb::simple_partitioner());
}

}  // namespace qkv::model
