// GEMM backends against a double-precision reference, and thread-count independence.
#include <gtest/gtest.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "model/gemm.hpp"

using namespace qkv::model;

namespace {

struct Case {
  size_t m, n, k;
};

std::vector<float> random_vec(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

void check(GemmBackend be, Case c, bool accumulate) {
  // Padded leading dimensions catch stride mistakes.
  const size_t lda = c.k + 3, ldb = c.n + 5, ldc = c.n + 1;
  auto a = random_vec(c.m * lda, 1), b = random_vec(c.k * ldb, 2), c0 = random_vec(c.m * ldc, 3);
  auto out = c0;
  gemm(be, {c.m, c.n, c.k, a.data(), lda, b.data(), ldb, out.data(), ldc, accumulate});
  for (size_t i = 0; i < c.m; ++i)
    for (size_t j = 0; j < c.n; ++j) {
      double ref = accumulate ? c0[i * ldc + j] : 0.0;
      for (size_t p = 0; p < c.k; ++p) ref += double(a[i * lda + p]) * b[p * ldb + j];
      ASSERT_NEAR(out[i * ldc + j], ref, 1e-4 * (1 + std::sqrt(double(c.k))))
          << gemm_backend_name(be) << " " << c.m << "x" << c.n << "x" << c.k << " at " << i << ","
          << j;
    }
  // Padding columns of C are untouched.
  for (size_t i = 0; i < c.m; ++i) ASSERT_EQ(out[i * ldc + c.n], c0[i * ldc + c.n]);
}

}  // namespace

TEST(Gemm, MatchesReference) {
  for (auto be : {GemmBackend::OpenBlas, GemmBackend::Highway})
    for (Case c : {Case{1, 1, 1}, Case{7, 13, 5}, Case{65, 300, 257}, Case{130, 33, 600},
                   Case{3, 0, 4}, Case{4, 5, 0}})
      for (bool acc : {false, true}) check(be, c, acc);
}

TEST(Gemm, SameBitsForOneAndTwoThreads) {
  const size_t m = 200, n = 700, k = 300;
  auto a = random_vec(m * k, 4), b = random_vec(k * n, 5);
  for (auto be : {GemmBackend::OpenBlas, GemmBackend::Highway}) {
    std::vector<float> c1(m * n), c2(m * n);
    tbb::task_arena(1).execute([&] {
      gemm(be, {m, n, k, a.data(), k, b.data(), n, c1.data(), n});
    });
    tbb::task_arena(2).execute([&] {
      gemm(be, {m, n, k, a.data(), k, b.data(), n, c2.data(), n});
    });
    EXPECT_EQ(0, std::memcmp(c1.data(), c2.data(), c1.size() * 4)) << gemm_backend_name(be);
  }
}

TEST(Gemm, OpenBlasIsTheSerialBuild) {
  // A threaded OpenBLAS would start its own pool next to oneTBB's.
  EXPECT_EQ(openblas_parallel_mode(), 0);
}
