// GEMM libraries measured beside the Highway kernel in bench/model (issue 17 item 2): oneDNN
// (Debian libdnnl-dev, JIT kernels, OpenMP) and BLIS (Debian libblis-dev). Each is called two
// ways: once on the whole matrix with the library's own threads, and per fixed qkv tile
// (model/gemm.hpp's 96 x 256 tiles of C, all K) single-threaded on oneTBB, the only way qkv
// could adopt one (per-row results independent of the thread count). Built only when the
// library is installed; the product links neither.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace qkv::bench {

struct GemmPeer {
  std::string name;
  // Row-major C[m][n] = A[m][k] * B[k][n], `threads` threads (whole) or oneTBB tiles (tiled).
  void (*whole)(size_t m, size_t n, size_t k, const float* a, const float* b, float* c,
                int threads);
  void (*tile)(size_t m, size_t n, size_t k, const float* a, size_t lda, const float* b, size_t ldb,
               float* c, size_t ldc);
};

// The libraries this build found (possibly none).
std::vector<GemmPeer> gemm_peers();

}  // namespace qkv::bench
