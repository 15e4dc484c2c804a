// oneDNN and BLIS single-precision GEMM behind one signature (gemm_peers.hpp).
#include "gemm_peers.hpp"

#ifdef QKV_BENCH_DNNL
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#endif
#ifdef QKV_BENCH_BLIS
#include <blis.h>
#endif

namespace qkv::bench {

namespace {

#ifdef QKV_BENCH_DNNL
// dnnl_sgemm runs on the calling thread's OpenMP team; omp_set_num_threads is per calling thread
// (each oneTBB worker is its own OpenMP initial thread), so tiles run single-threaded.
void dnnl_whole(size_t m, size_t n, size_t k, const float* a, const float* b, float* c,
                int threads) {
  omp_set_num_threads(threads);
  dnnl_sgemm('N', 'N', dnnl_dim_t(m), dnnl_dim_t(n), dnnl_dim_t(k), 1.0f, a, dnnl_dim_t(k), b,
             dnnl_dim_t(n), 0.0f, c, dnnl_dim_t(n));
}
void dnnl_tile(size_t m, size_t n, size_t k, const float* a, size_t lda, const float* b, size_t ldb,
               float* c, size_t ldc) {
  omp_set_num_threads(1);
  dnnl_sgemm('N', 'N', dnnl_dim_t(m), dnnl_dim_t(n), dnnl_dim_t(k), 1.0f, a, dnnl_dim_t(lda), b,
             dnnl_dim_t(ldb), 0.0f, c, dnnl_dim_t(ldc));
}
#endif

#ifdef QKV_BENCH_BLIS
void blis_call(size_t m, size_t n, size_t k, const float* a, size_t lda, const float* b, size_t ldb,
               float* c, size_t ldc, int threads) {
  rntm_t rntm = BLIS_RNTM_INITIALIZER;
  bli_rntm_set_num_threads(threads, &rntm);
  float one = 1.0f, zero = 0.0f;
  bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, dim_t(m), dim_t(n), dim_t(k), &one,
               const_cast<float*>(a), inc_t(lda), 1, const_cast<float*>(b), inc_t(ldb), 1, &zero, c,
               inc_t(ldc), 1, nullptr, &rntm);
}
void blis_whole(size_t m, size_t n, size_t k, const float* a, const float* b, float* c,
                int threads) {
  blis_call(m, n, k, a, k, b, n, c, n, threads);
}
void blis_tile(size_t m, size_t n, size_t k, const float* a, size_t lda, const float* b, size_t ldb,
               float* c, size_t ldc) {
  blis_call(m, n, k, a, lda, b, ldb, c, ldc, 1);
}
#endif

}  // namespace

std::vector<GemmPeer> gemm_peers() {
  std::vector<GemmPeer> out;
#ifdef QKV_BENCH_DNNL
  const dnnl_version_t* v = dnnl_version();
  out.push_back({"oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                     std::to_string(v->patch),
                 dnnl_whole, dnnl_tile});
#endif
#ifdef QKV_BENCH_BLIS
  out.push_back({std::string("BLIS ") + bli_info_get_version_str() + " (" +
                     bli_arch_string(bli_arch_query_id()) + ")",
                 blis_whole, blis_tile});
#endif
  return out;
}

}  // namespace qkv::bench
