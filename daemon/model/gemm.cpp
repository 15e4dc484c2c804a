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
  // B is packed once per call and shared by every row tile: packing it per tile re-read the
  // strided weights (L3) once per 96 rows and cost ~20% of the FLOP rate. Allocated per call,
  // not thread_local: a thread waiting in parallel_for may run another gemm() meanwhile.
  const size_t slab = ((g.k + kGemmBlockK - 1) / kGemmBlockK) * kGemmBlockK * kGemmTileN;
  const auto packed = hwy::AllocateAligned<float>(tn * slab);
  auto column = [&](size_t j) {
    GemmArgs c = g;
    c.b = g.b + j * kGemmTileN;
    c.n = std::min(kGemmTileN, g.n - j * kGemmTileN);
    return c;
  };
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
