#include "model/gemm.hpp"

#include <cblas.h>
#include <tbb/blocked_range2d.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstdlib>

extern "C" int openblas_get_parallel(void);

namespace qkv::model {

namespace {
// Fixed tile sizes: the split never depends on the number of threads (determinism), and a
// tile is large enough that BLAS packing is amortized.
constexpr size_t kTileM = 64;
constexpr size_t kTileN = 256;
}  // namespace

std::string_view gemm_backend_name(GemmBackend b) {
  return b == GemmBackend::OpenBlas ? "openblas" : "highway";
}

// Highway measured faster than OpenBLAS on the projection/FFN shapes (bench/README.md, "Model
// runtime"); QKV_GEMM=openblas overrides it when a model loads, for re-measuring.
GemmBackend default_gemm_backend() {
  const char* env = std::getenv("QKV_GEMM");
  return env && std::string_view(env) == "openblas" ? GemmBackend::OpenBlas : GemmBackend::Highway;
}

int openblas_parallel_mode() { return openblas_get_parallel(); }

void gemm_openblas_tile(const GemmArgs& g) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(g.m),
              static_cast<int>(g.n), static_cast<int>(g.k), 1.0f, g.a, static_cast<int>(g.lda), g.b,
              static_cast<int>(g.ldb), g.accumulate ? 1.0f : 0.0f, g.c, static_cast<int>(g.ldc));
}

void gemm(GemmBackend backend, const GemmArgs& g, bool parallel) {
  if (g.m == 0 || g.n == 0) return;
  auto tile = [&](size_t m0, size_t m1, size_t n0, size_t n1) {
    GemmArgs t = g;
    t.m = m1 - m0;
    t.n = n1 - n0;
    t.a = g.a + m0 * g.lda;
    t.b = g.b + n0;
    t.c = g.c + m0 * g.ldc + n0;
    if (backend == GemmBackend::OpenBlas)
      gemm_openblas_tile(t);
    else
      gemm_highway_tile(t);
  };
  const size_t tm = (g.m + kTileM - 1) / kTileM, tn = (g.n + kTileN - 1) / kTileN;
  auto run = [&](size_t i, size_t j) {
    tile(i * kTileM, std::min(g.m, (i + 1) * kTileM), j * kTileN, std::min(g.n, (j + 1) * kTileN));
  };
  if (!parallel || tm * tn == 1) {
    for (size_t i = 0; i < tm; ++i)
      for (size_t j = 0; j < tn; ++j) run(i, j);
    return;
  }
  tbb::parallel_for(
      tbb::blocked_range2d<size_t>(0, tm, 1, 0, tn, 1),
      [&](const tbb::blocked_range2d<size_t>& r) {
        for (size_t i = r.rows().begin(); i < r.rows().end(); ++i)
          for (size_t j = r.cols().begin(); j < r.cols().end(); ++j) run(i, j);
      },
      tbb::simple_partitioner());
}

}  // namespace qkv::model
