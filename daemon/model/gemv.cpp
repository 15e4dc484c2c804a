// gemv() over fixed column tiles on oneTBB (the kernel: gemv_hwy.cpp).
#include "model/gemv.hpp"

#include <tbb/parallel_for.h>

#include <algorithm>

namespace qkv::model {

void gemv(const GemmArgs& g, bool parallel) {
  if (g.m == 0 || g.n == 0) return;
  if (g.k == 0) {
    if (!g.accumulate)
      for (size_t i = 0; i < g.m; ++i) std::fill_n(g.c + i * g.ldc, g.n, 0.0f);
    return;
  }
  const size_t tn = (g.n + kGemmTileN - 1) / kGemmTileN;
  auto run = [&](size_t j) {
    GemmArgs t = g;
    t.b = g.b + j * kGemmTileN;
    t.c = g.c + j * kGemmTileN;
    t.n = std::min(kGemmTileN, g.n - j * kGemmTileN);
    gemv_highway_tile(t);
  };
  if (!parallel || tn == 1) {
    for (size_t j = 0; j < tn; ++j) run(j);
    return;
  }
  tbb::parallel_for(
      tbb::blocked_range<size_t>(0, tn, 1),
      [&](const tbb::blocked_range<size_t>& r) {
        for (size_t j = r.begin(); j < r.end(); ++j) run(j);
      },
      tbb::simple_partitioner());
}

}  // namespace qkv::model
