// Randomized property test: flash against the reference on many shapes (lengths ragged within
// a batch, head_dim 32/64/80/128 and odd sizes, heads 1..16, GQA/MQA, both masks, self and
// cross, strides, probabilities), under a cap on total work per run. The seed is printed and
// QKV_ATTENTION_SEED replays it. QKV_PROPERTY_BIG selects the large run (optimized builds only).
#include "attention_case.hpp"
#include "flash_attention.hpp"
#include "reference_attention.hpp"

#include <gtest/gtest.h>

#include <cstdio>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define QKV_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define QKV_SANITIZED 1
#endif
#endif
#ifndef QKV_SANITIZED
#define QKV_SANITIZED 0
#endif

namespace qkv::attention::test {
namespace {

// Large shapes only when optimized and not instrumented; sanitizer runs use the small ones.
constexpr bool kBig = QKV_PROPERTY_BIG && !QKV_SANITIZED
#ifndef NDEBUG
                      && false
#endif
    ;

TEST(AttentionProperty, FlashMatchesReference) {
  std::mt19937_64 rng(test_seed());
  RandomSpec spec;
  double budget;  // multiply-adds per impl per run
  int cases;
  if (kBig) {
    spec.max_len = 1000;
    spec.max_batch = 3;
    spec.dims = {32, 64, 80, 128, 17};
    budget = 1.5e10;
    cases = 60;
  } else {
    spec.max_len = 48;
    spec.max_batch = 3;
    spec.max_heads = 5;
    spec.dims = {32, 64, 80, 128, 1, 3, 17};
    budget = 3e7;
    cases = 150;
  }
  double spent = 0;
  int ran = 0, skipped = 0;
  for (int i = 0; i < cases; ++i) {
    const Case c = random_case(rng, spec);  // drawn even when skipped: the seed replays
    if (spent + c.work() > budget) {
      ++skipped;
      continue;
    }
    spent += c.work();
    ++ran;
    SCOPED_TRACE("case " + std::to_string(i) + " " + c.describe());
    const bool probs = c.probs_size() < (kBig ? 4'000'000u : 200'000u) && i % 2 == 0;
    const Result ref = run(reference_forward, c, probs);
    const Result fl = run(flash_forward, c, probs);
    ASSERT_EQ(compare(fl.out, ref.out, "out", float32_slack(c)), "");
    if (probs) {
      ASSERT_EQ(compare(fl.probs, ref.probs, "probs"), "");
    }
  }
  std::printf("ran %d cases (%d over the work cap skipped), %.3g multiply-adds each impl\n", ran,
              skipped, spent);
  EXPECT_GT(ran, cases / 4);
}

}  // namespace
}  // namespace qkv::attention::test
