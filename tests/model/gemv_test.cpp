// The small-M path of gemm() (model/gemv.hpp) on every SIMD target this CPU can run: close to a
// double-precision reference, and the same bits as the packed GEMM tiles (so a row's result
// does not depend on whether its batch took the small-M path), and on how many rows share it.
#include <gtest/gtest.h>
#include <hwy/aligned_allocator.h>
#include <hwy/targets.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "model/gemm.hpp"
#include "model/gemv.hpp"
#include "simd_targets.hpp"

using namespace qkv::model;

namespace {

std::vector<float> random_vec(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// C through the packed GEMM tiles (gemm_hwy.cpp), one column tile at a time.
void packed_gemm(const GemmArgs& g) {
  const size_t slab = ((g.k + kGemmBlockK - 1) / kGemmBlockK) * kGemmBlockK * kGemmTileN;
  const auto packed = hwy::AllocateAligned<float>(std::max<size_t>(slab, 1));
  for (size_t j0 = 0; j0 < g.n; j0 += kGemmTileN) {
    GemmArgs t = g;
    t.b = g.b + j0;
    t.c = g.c + j0;
    t.n = std::min(kGemmTileN, g.n - j0);
    gemm_pack_column_b(t, packed.get());
    gemm_highway_tile(t, packed.get());
  }
}

class GemvTargets : public ::testing::TestWithParam<int64_t> {
 protected:
  void SetUp() override {
    if (!qkv::simd_test::target_runs_here(GetParam()))
      GTEST_SKIP() << hwy::TargetName(GetParam()) << " is not supported by this CPU";
    hwy::SetSupportedTargetsForTest(GetParam());
  }
  void TearDown() override { hwy::SetSupportedTargetsForTest(0); }
};

TEST_P(GemvTargets, MatchesTheReferenceAndThePackedGemmBitForBit) {
  ASSERT_STREQ(gemm_target_name(), hwy::TargetName(GetParam()));
  struct Case {
    size_t n, k;
  };
  // Ragged chunks and column tiles, several K blocks, one element.
  for (Case c : {Case{1, 1}, Case{13, 5}, Case{33, 17}, Case{300, 257}, Case{530, 600}})
    for (size_t m = 1; m <= kGemvMaxRows; ++m)
      for (bool acc : {false, true}) {
        const size_t lda = c.k + 3, ldb = c.n + 5, ldc = c.n + 1;  // padding catches strides
        const auto a = random_vec(m * lda, 1), b = random_vec(c.k * ldb, 2),
                   c0 = random_vec(m * ldc, 3);
        auto got = c0, want = c0;
        gemm(GemmKernel::Highway,
             {m, c.n, c.k, a.data(), lda, b.data(), ldb, got.data(), ldc, acc});
        packed_gemm({m, c.n, c.k, a.data(), lda, b.data(), ldb, want.data(), ldc, acc});
        ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * 4))
            << gemm_target_name() << " " << m << "x" << c.n << "x" << c.k << " acc " << acc;
        for (size_t i = 0; i < m; ++i)
          for (size_t j = 0; j < c.n; ++j) {
            double ref = acc ? c0[i * ldc + j] : 0.0;
            for (size_t p = 0; p < c.k; ++p) ref += double(a[i * lda + p]) * b[p * ldb + j];
            ASSERT_NEAR(got[i * ldc + j], ref, 1e-4 * (1 + std::sqrt(double(c.k))));
          }
        for (size_t i = 0; i < m; ++i) ASSERT_EQ(got[i * ldc + c.n], c0[i * ldc + c.n]);
      }
}

TEST_P(GemvTargets, RowsDoNotDependOnHowManyShareTheCall) {
  const size_t n = 530, k = 600, m = kGemvMaxRows;
  const auto a = random_vec(m * k, 6), b = random_vec(k * n, 7);
  std::vector<float> all(m * n);
  gemv({m, n, k, a.data(), k, b.data(), n, all.data(), n});
  for (size_t first = 0; first < m; ++first) {
    std::vector<float> one(n);
    gemv({1, n, k, a.data() + first * k, k, b.data(), n, one.data(), n}, false);
    EXPECT_EQ(0, std::memcmp(one.data(), all.data() + first * n, n * 4)) << "row " << first;
  }
}

INSTANTIATE_TEST_SUITE_P(Each, GemvTargets,
                         ::testing::ValuesIn(qkv::simd_test::compiled_simd_targets()),
                         [](const auto& info) { return std::string(hwy::TargetName(info.param)); });

}  // namespace
