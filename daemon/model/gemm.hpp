// Dense matrix products for projections and feed-forward layers (the bulk of the flops).
// Row-major C[M,N] = A[M,K] * B[K,N] (+ C when accumulate). Work is split into fixed tiles,
// independent of the thread count, and each tile is computed by one call with a fixed
// reduction order, so results are bit-identical for any number of threads.
#pragma once

#include <cstddef>
#include <string_view>

namespace qkv::model {

enum class GemmBackend { OpenBlas, Highway };

std::string_view gemm_backend_name(GemmBackend b);

// The backend the model uses: the faster one measured by bench/model (Highway), unless the
// environment says QKV_GEMM=openblas.
GemmBackend default_gemm_backend();

struct GemmArgs {
  size_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  size_t lda = 0;
  const float* b = nullptr;
  size_t ldb = 0;
  float* c = nullptr;
  size_t ldc = 0;
  bool accumulate = false;  // C += A*B instead of C = A*B
};

// Tiles run on the caller's oneTBB arena (one thread when `parallel` is false).
void gemm(GemmBackend backend, const GemmArgs& args, bool parallel = true);

// Single-tile kernels, exposed for the benchmark.
void gemm_openblas_tile(const GemmArgs& args);
void gemm_highway_tile(const GemmArgs& args);

// OpenBLAS' threading model: 0 sequential, 1 pthreads, 2 OpenMP. qkv needs 0 (oneTBB owns
// the cores); checked at start-up and by a unit test.
int openblas_parallel_mode();

}  // namespace qkv::model
