// Token choice (daemon/model/sampling.cpp): the processors as Hugging Face defines them
// (repetition_penalty, temperature, top_k with ties, top_p), the counter-based RNG, and over
// 10,000 draws the first-token frequencies match the softmax (chi-square).
#include "model/sampling.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

namespace qkv::model {
namespace {

SamplingParams sampling(double temperature = 1.0) {
  SamplingParams p;
  p.sample = true;
  p.temperature = temperature;
  p.seed = 42;
  return p;
}

// Which ids the draws of documents 0..n-1 (step 0) hit, with counts.
std::vector<int> histogram(const std::vector<float>& logits, const SamplingParams& p, int n) {
  std::vector<int> count(logits.size(), 0);
  for (int doc = 0; doc < n; ++doc) {
    auto l = logits;
    ++count[choose_token(l, {}, p, doc, 0)];
  }
  return count;
}

TEST(Sampling, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogitsOnce) {
  std::vector<float> l = {2.0f, -1.0f, 3.0f, 0.5f};
  const std::vector<int32_t> context = {0, 1, 1, 0, 1};
  apply_repetition_penalty(l, context, 2.0);
  EXPECT_FLOAT_EQ(l[0], 1.0f);
  EXPECT_FLOAT_EQ(l[1], -2.0f);
  EXPECT_FLOAT_EQ(l[2], 3.0f);
  EXPECT_FLOAT_EQ(l[3], 0.5f);
}

TEST(Sampling, GreedyTakesTheArgmaxAfterThePenaltyWithTiesToTheSmallerId) {
  SamplingParams p;
  std::vector<float> l = {1.0f, 4.0f, 4.0f, 3.0f};
  EXPECT_EQ(choose_token(l, {}, p, 0, 0), 1);
  p.repetition_penalty = 2.0;
  l = {1.0f, 4.0f, 4.0f, 3.0f};
  const std::vector<int32_t> seen = {1, 2};
  EXPECT_EQ(choose_token(l, seen, p, 0, 0), 3);  // 4/2 = 2 < 3
  // temperature 0 under sampling is greedy too.
  auto s = sampling(0.0);
  l = {1.0f, 4.0f, 5.0f, 3.0f};
  EXPECT_EQ(choose_token(l, {}, s, 7, 3), 2);
}

TEST(Sampling, TopKAndTopPKeepTheRightSets) {
  // probabilities ~ 0.64, 0.24, 0.09, 0.03 for logits 3, 2, 1, 0
  const std::vector<float> logits = {1.0f, 3.0f, 0.0f, 2.0f};
  auto p = sampling();
  p.top_k = 2;
  auto c = histogram(logits, p, 2000);
  EXPECT_GT(c[1], 0);
  EXPECT_GT(c[3], 0);
  EXPECT_EQ(c[0] + c[2], 0);
  // top_k keeps every token tied with the k-th.
  const std::vector<float> tied = {2.0f, 3.0f, 2.0f, 0.0f};
  c = histogram(tied, p, 2000);
  EXPECT_GT(c[0], 0);
  EXPECT_GT(c[2], 0);
  EXPECT_EQ(c[3], 0);
  // top_p 0.8: 0.64 < 0.8, 0.64 + 0.24 >= 0.8: the two largest.
  p = sampling();
  p.top_p = 0.8;
  c = histogram(logits, p, 2000);
  EXPECT_GT(c[1], 0);
  EXPECT_GT(c[3], 0);
  EXPECT_EQ(c[0] + c[2], 0);
  // top_p below the largest probability keeps exactly one token.
  p.top_p = 0.1;
  c = histogram(logits, p, 500);
  EXPECT_EQ(c[1], 500);
}

TEST(Sampling, TheRngDependsOnSeedDocumentAndStepOnly) {
  EXPECT_EQ(counter_uniform(1, 2, 3), counter_uniform(1, 2, 3));
  std::set<double> seen;
  for (uint64_t s = 0; s < 4; ++s)
    for (uint64_t d = 0; d < 4; ++d)
      for (uint64_t t = 0; t < 4; ++t) {
        const double u = counter_uniform(s, d, t);
        EXPECT_GE(u, 0.0);
        EXPECT_LT(u, 1.0);
        seen.insert(u);
      }
  EXPECT_EQ(seen.size(), 64u);
}

TEST(Sampling, FirstTokenFrequenciesMatchTheSoftmax) {
  const std::vector<float> logits = {0.3f, -1.2f, 1.5f, 0.0f, 0.9f, -0.4f, 2.1f, -2.0f};
  const double temperature = 1.3;
  const int n = 10000;
  const auto count = histogram(logits, sampling(temperature), n);
  std::vector<double> prob(logits.size());
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) sum += prob[i] = std::exp(logits[i] / temperature);
  double chi2 = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const double expected = n * prob[i] / sum;
    chi2 += (count[i] - expected) * (count[i] - expected) / expected;
  }
  // p > 0.001 for 7 degrees of freedom: chi-square below 24.32 (its 0.999 quantile).
  EXPECT_LT(chi2, 24.32);
}

}  // namespace
}  // namespace qkv::model
