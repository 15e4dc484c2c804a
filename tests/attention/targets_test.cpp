// The flash kernel on every SIMD target this CPU can run (AVX2, SSE4, scalar), forced one at a
// time through Highway's dispatch mock: each must match the torch fixtures and the reference.
#include "attention_case.hpp"
#include "flash_attention.hpp"
#include "reference_attention.hpp"

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
  if (!(hwy::SupportedTargets() & target))
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
  spec.max_len = 90;
  spec.max_heads = 4;
  spec.max_batch = 2;
  spec.dims = {80, 17};
  for (int i = 0; i < 4; ++i) {
    const Case c = random_case(rng, spec);
    SCOPED_TRACE(c.describe());
    const Result fl = run(flash_forward, c, true), ref = run(reference_forward, c, true);
    EXPECT_EQ(compare(fl.out, ref.out, "out"), "");
    EXPECT_EQ(compare(fl.probs, ref.probs, "probs"), "");
  }
}

INSTANTIATE_TEST_SUITE_P(Each, FlashTargets, ::testing::Values(HWY_AVX2, HWY_SSE4, HWY_SCALAR),
                         [](const auto& info) { return std::string(hwy::TargetName(info.param)); });

}  // namespace
}  // namespace qkv::attention::test
