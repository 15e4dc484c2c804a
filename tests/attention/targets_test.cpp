// The flash kernel on every SIMD target compiled and runnable here (AVX-512, AVX2, SSE4, SSSE3,
// scalar), forced one at a time through Highway's dispatch mock: each must match the torch
// fixtures and the reference.
#include "attention_case.hpp"
#include "flash_attention.hpp"
#include "reference_attention.hpp"
#include "simd_targets.hpp"

#include <gtest/gtest.h>
#include <hwy/targets.h>

namespace qkv::attention::test {
namespace {

class FlashTargets : public ::testing::TestWithParam<int64_t> {
 protected:
  void TearDown() override { hwy::SetSupportedTargetsForTest(0); }
};

TEST_P(FlashTargets, MatchFixturesAndReference) {
  const int64_t target = GetParam();
  if (!simd_test::target_runs_here(target))
    GTEST_SKIP() << hwy::TargetName(target) << " is not supported by this CPU";
  hwy::SetSupportedTargetsForTest(target);
  ASSERT_STREQ(flash_target_name(), hwy::TargetName(target));
  for (const auto& name : fixture_names()) {
    const Case c = load_fixture(name);
    SCOPED_TRACE(c.describe());
    const Result r = run(flash_forward, c, !c.expected_probs.empty());
    EXPECT_EQ(compare(r.out, c.expected_out, "out"), "");
    if (!c.expected_probs.empty()) {
      EXPECT_EQ(compare(r.probs, c.expected_probs, "probs"), "");
    }
  }
  std::mt19937_64 rng(test_seed());
  RandomSpec spec;
  // Up to 3 query blocks per sequence on AVX-512 (128 rows each), 6 elsewhere (64): the causal
  // driver pairs first and last blocks and runs an odd middle one alone; head dims ragged to
  // every vector width, and one past the kernel's on-stack scratch (128).
  spec.max_len = 380;
  spec.max_heads = 3;
  spec.max_batch = 2;
  spec.dims = {80, 17, 64, 144};
  for (int i = 0; i < 6; ++i) {
    const Case c = random_case(rng, spec);
    SCOPED_TRACE(c.describe());
    const Result fl = run(flash_forward, c, true), ref = run(reference_forward, c, true);
    EXPECT_EQ(compare(fl.out, ref.out, "out"), "");
    EXPECT_EQ(compare(fl.probs, ref.probs, "probs"), "");
  }
}

INSTANTIATE_TEST_SUITE_P(Each, FlashTargets,
                         ::testing::ValuesIn(simd_test::compiled_simd_targets()),
                         [](const auto& info) { return std::string(hwy::TargetName(info.param)); });

TEST(FlashDispatch, RunsTheWidestTargetOfThisCpu) {
  EXPECT_STREQ(flash_target_name(), hwy::TargetName(simd_test::widest_target_by_cpu_flags()));
}

}  // namespace
}  // namespace qkv::attention::test
