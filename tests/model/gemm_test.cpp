// The GEMM on every SIMD target this CPU can run, forced one at a time through Highway's
// dispatch mock, against a double-precision reference; and thread-count independence.
#include <gtest/gtest.h>
#include <hwy/targets.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "model/gemm.hpp"
#include "simd_targets.hpp"

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

void check(Case c, bool accumulate) {
  // Padded leading dimensions catch stride mistakes.
  const size_t lda = c.k + 3, ldb = c.n + 5, ldc = c.n + 1;
  auto a = random_vec(c.m * lda, 1), b = random_vec(c.k * ldb, 2), c0 = random_vec(c.m * ldc, 3);
  auto out = c0;
  gemm(GemmKernel::Highway,
       {c.m, c.n, c.k, a.data(), lda, b.data(), ldb, out.data(), ldc, accumulate});
  for (size_t i = 0; i < c.m; ++i)
    for (size_t j = 0; j < c.n; ++j) {
      double ref = accumulate ? c0[i * ldc + j] : 0.0;
      for (size_t p = 0; p < c.k; ++p) ref += double(a[i * lda + p]) * b[p * ldb + j];
      ASSERT_NEAR(out[i * ldc + j], ref, 1e-4 * (1 + std::sqrt(double(c.k))))
          << gemm_target_name() << " " << c.m << "x" << c.n << "x" << c.k << " at " << i << ","
          << j;
    }
  // Padding columns of C are untouched.
  for (size_t i = 0; i < c.m; ++i) ASSERT_EQ(out[i * ldc + c.n], c0[i * ldc + c.n]);
}

class GemmTargets : public ::testing::TestWithParam<int64_t> {
 protected:
  void TearDown() override { hwy::SetSupportedTargetsForTest(0); }
};

TEST_P(GemmTargets, MatchesReference) {
  const int64_t target = GetParam();
  if (!qkv::simd_test::target_runs_here(target))
    GTEST_SKIP() << hwy::TargetName(target) << " is not supported by this CPU";
  hwy::SetSupportedTargetsForTest(target);
  ASSERT_STREQ(gemm_target_name(), hwy::TargetName(target));
  // Edges of every kind: below one register tile, ragged slivers and panels, several K blocks,
  // several GEMM tiles in both directions, empty.
  for (Case c : {Case{1, 1, 1}, Case{7, 13, 5}, Case{13, 33, 17}, Case{65, 300, 257},
                 Case{130, 33, 600}, Case{200, 530, 64}, Case{3, 0, 4}, Case{4, 5, 0}})
    for (bool acc : {false, true}) check(c, acc);
}

// A row's result must not depend on the batch around it (how many rows, where it sits in a
// GEMM tile or a register tile): documents are batched differently for other inputs and
// --threads values, and their outputs promise the same bits (docs/model.md).
TEST_P(GemmTargets, RowsDoNotDependOnTheBatch) {
  const int64_t target = GetParam();
  if (!qkv::simd_test::target_runs_here(target))
    GTEST_SKIP() << hwy::TargetName(target) << " is not supported by this CPU";
  hwy::SetSupportedTargetsForTest(target);
  const size_t m = 230, n = 530, k = 600;  // several GEMM tiles, ragged register tiles, 3 K blocks
  auto a = random_vec(m * k, 6), b = random_vec(k * n, 7);
  std::vector<float> all(m * n);
  gemm(GemmKernel::Highway, {m, n, k, a.data(), k, b.data(), n, all.data(), n});
  for (auto [first, rows] :
       {std::pair<size_t, size_t>{0, 1}, {37, 1}, {5, 13}, {101, 96}, {50, 180}}) {
    std::vector<float> part(rows * n);
    gemm(GemmKernel::Highway, {rows, n, k, a.data() + first * k, k, b.data(), n, part.data(), n});
    EXPECT_EQ(0, std::memcmp(part.data(), all.data() + first * n, part.size() * 4))
        << gemm_target_name() << ": " << rows << " rows from row " << first;
  }
}

INSTANTIATE_TEST_SUITE_P(Each, GemmTargets,
                         ::testing::ValuesIn(qkv::simd_test::compiled_simd_targets()),
                         [](const auto& info) { return std::string(hwy::TargetName(info.param)); });

TEST(Gemm, DispatchesToTheWidestTarget) {
  EXPECT_STREQ(gemm_target_name(), hwy::TargetName(qkv::simd_test::widest_target_by_cpu_flags()));
}

TEST(Gemm, SameBitsForOneAndTwoThreads) {
  // Several row tiles (B packed up front), and one (each column packed in its own task).
  for (const size_t m : {200, 40}) {
    const size_t n = 700, k = 300;
    auto a = random_vec(m * k, 4), b = random_vec(k * n, 5);
    std::vector<float> c1(m * n), c2(m * n);
    tbb::task_arena(1).execute([&] {
      gemm(GemmKernel::Highway, {m, n, k, a.data(), k, b.data(), n, c1.data(), n});
    });
    tbb::task_arena(2).execute([&] {
      gemm(GemmKernel::Highway, {m, n, k, a.data(), k, b.data(), n, c2.data(), n});
    });
    EXPECT_EQ(0, std::memcmp(c1.data(), c2.data(), c1.size() * 4)) << m << " rows";
  }
}

}  // namespace
