// Dense matrix products for projections and feed-forward layers (the bulk of the flops).
// Row-major C[M,N] = A[M,K] * B[K,N] (+ C when accumulate). Work is split into fixed tiles,
// independent of the thread count, and each tile is computed by one call with a fixed
// reduction order, so results are bit-identical for any number of threads.
#pragma once

#include <cstddef>
#include <string_view>

namespace qkv::model {

// One kernel today: the Highway kernel (gemm_hwy.cpp). OpenBLAS was dropped: Debian's serial
// build is not safe under concurrent calls from oneTBB threads (a flaky parity test), and the
// Highway kernel was faster. A library (BLAS) kernel may come back here only if it is safe under
// concurrent calls and keeps outputs independent of the thread count.
enum class GemmKernel { Highway };

std::string_view gemm_kernel_name(GemmKernel k);

// The kernel a model uses when none is given.
GemmKernel default_gemm_kernel();

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

// The fixed tile of C one kernel call computes (the same on every SIMD target; a multiple of
// every target's register tile height), and the K block one packed slab of B covers.
inline constexpr size_t kGemmTileM = 96;
inline constexpr size_t kGemmTileN = 256;
inline constexpr size_t kGemmBlockK = 256;

// Tiles run on the caller's oneTBB arena (one thread when `parallel` is false).
void gemm(GemmKernel kernel, const GemmArgs& args, bool parallel = true);

// The kernels gemm() runs (gemm_hwy.cpp): B's columns of one column tile (column.n <=
// kGemmTileN), all K, packed into ceil(K / kGemmBlockK) slabs of kGemmBlockK x kGemmTileN
// floats; then a tile of C from the packing of its columns.
void gemm_pack_column_b(const GemmArgs& column, float* packed);
void gemm_highway_tile(const GemmArgs& tile, const float* packed);

// Name of the SIMD target the Highway kernel dispatches to on this CPU (e.g. "AVX3").
const char* gemm_target_name();

}  // namespace qkv::model
