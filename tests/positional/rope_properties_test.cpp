// Properties RoPE must have whatever the layout, base or fraction: it is a rotation (norms
// kept, position 0 is the identity) and scores depend only on relative position.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "rope.hpp"

namespace {

using qkv::positional::Rope;
using qkv::positional::RopeLayout;

struct Params {
  RopeLayout layout;
  double base;
  double fraction;
  uint32_t head_dim;
};

std::vector<float> random_vector(std::mt19937& rng, size_t n) {
  std::normal_distribution<float> dist;
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double{a[i]} * b[i];
  return s;
}

std::vector<float> rotated(const Rope& rope, std::vector<float> v, int32_t pos) {
  rope.rotate(v.data(), 1, static_cast<uint32_t>(v.size()), v.size(), std::span(&pos, 1));
  return v;
}

const Params kParams[] = {
    {RopeLayout::neox, 10000.0, 1.0, 64},    {RopeLayout::gptj, 10000.0, 1.0, 64},
    {RopeLayout::neox, 500000.0, 0.25, 128}, {RopeLayout::gptj, 10000.0, 0.5, 32},
    {RopeLayout::gptj, 100.0, 1.0, 80},
};

TEST(RopeProperties, PreservesNormsAndPositionZeroIsIdentity) {
  std::mt19937 rng(7);
  for (const auto& p : kParams) {
    Rope rope(p.layout, p.base, p.fraction);
    for (int32_t pos : {0, 1, 2, 33, 1000, 65535, 1 << 24}) {
      auto v = random_vector(rng, p.head_dim);
      auto r = rotated(rope, v, pos);
      EXPECT_NEAR(std::sqrt(dot(r, r)), std::sqrt(dot(v, v)), 1e-5 * std::sqrt(dot(v, v)))
          << "pos " << pos;
      if (pos == 0) {
        EXPECT_EQ(r, v);
      }
      // Dimensions past rotary_dim are untouched.
      for (uint32_t i = rope.rotary_dim(p.head_dim); i < p.head_dim; ++i) EXPECT_EQ(r[i], v[i]);
    }
  }
}

TEST(RopeProperties, ScoreDependsOnlyOnRelativePosition) {
  std::mt19937 rng(11);
  for (const auto& p : kParams) {
    Rope rope(p.layout, p.base, p.fraction);
    auto q = random_vector(rng, p.head_dim), k = random_vector(rng, p.head_dim);
    for (auto [m, n] : {std::pair{5, 3}, std::pair{0, 9}, std::pair{17, 17}, std::pair{100, 1}}) {
      const double base_score = dot(rotated(rope, q, m), rotated(rope, k, n));
      for (int32_t shift : {1, 7, 250, 4000}) {
        const double s = dot(rotated(rope, q, m + shift), rotated(rope, k, n + shift));
        EXPECT_NEAR(s, base_score, 1e-4 * (1 + std::fabs(base_score)))
            << "m " << m << " n " << n << " shift " << shift;
      }
    }
    // ... and does depend on it (a rotation that did nothing would pass the check above).
    const double s0 = dot(rotated(rope, q, 0), rotated(rope, k, 0));
    const double s3 = dot(rotated(rope, q, 3), rotated(rope, k, 0));
    EXPECT_GT(std::fabs(s0 - s3), 1e-3);
  }
}

}  // namespace
