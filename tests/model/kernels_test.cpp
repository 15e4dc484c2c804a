// Norms and activations on every SIMD target this CPU can run, forced one at a time through
// Highway's dispatch mock, against double-precision references written out here.
#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <cmath>
#include <random>
#include <vector>

#include "model/gemm.hpp"
#include "model/kernels.hpp"
#include "simd_targets.hpp"

using namespace qkv::model;

namespace {

std::vector<float> random_vec(size_t n, uint32_t seed, float scale = 1.0f, float offset = 0.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng) + offset;
  return v;
}

double reference_activation(Activation act, double x) {
  switch (act) {
    case Activation::Relu:
      return x > 0 ? x : 0;
    case Activation::GeluErf:
      return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case Activation::GeluTanh:
      return 0.5 * x * (1 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case Activation::Silu:
      return x / (1 + std::exp(-x));
  }
  return 0;
}

class KernelTargets : public ::testing::TestWithParam<int64_t> {
 protected:
  void SetUp() override {
    const int64_t target = GetParam();
    if (!qkv::simd_test::target_runs_here(target))
      GTEST_SKIP() << hwy::TargetName(target) << " is not supported by this CPU";
    hwy::SetSupportedTargetsForTest(target);
    // kernels_hwy.cpp and gemm_hwy.cpp compile the same targets; the GEMM reports which ran.
    ASSERT_STREQ(gemm_target_name(), hwy::TargetName(target));
  }
  void TearDown() override { hwy::SetSupportedTargetsForTest(0); }
};

TEST_P(KernelTargets, NormsMatchReference) {
  // Dims below, at and past each vector width; rows strided; an offset mean tests centering.
  for (size_t dim : {1u, 3u, 8u, 17u, 64u, 771u})
    for (NormKind kind : {NormKind::LayerNorm, NormKind::RmsNorm})
      for (bool with_beta : {false, true})
        for (bool in_place : {false, true}) {
          const size_t rows = 5, xs = dim + 3, ys = in_place ? xs : dim + 1;
          const auto x = random_vec(rows * xs, 1, 2.0f, 3.0f);
          const auto gamma = random_vec(dim, 2), beta = random_vec(dim, 3);
          std::vector<float> y = in_place ? x : std::vector<float>(rows * ys, -7.0f);
          norm_rows(kind, in_place ? y.data() : x.data(), y.data(), rows, dim, xs, ys, gamma.data(),
                    with_beta ? beta.data() : nullptr, 1e-5f);
          for (size_t r = 0; r < rows; ++r) {
            const float* in = x.data() + r * xs;
            double mean = 0, var = 0;
            if (kind == NormKind::LayerNorm) {
              for (size_t i = 0; i < dim; ++i) mean += in[i];
              mean /= double(dim);
            }
            for (size_t i = 0; i < dim; ++i) var += (in[i] - mean) * (in[i] - mean);
            var /= double(dim);
            for (size_t i = 0; i < dim; ++i) {
              const double ref =
                  (in[i] - mean) / std::sqrt(var + 1e-5) * gamma[i] + (with_beta ? beta[i] : 0.0);
              ASSERT_NEAR(y[r * ys + i], ref, 2e-6 * (1 + std::abs(ref)))
                  << "dim " << dim << " row " << r << " col " << i << " kind " << int(kind)
                  << " beta " << with_beta << " in place " << in_place;
            }
            if (!in_place && ys > dim) {
              ASSERT_EQ(y[r * ys + dim], -7.0f) << "padding written";
            }
          }
        }
}

TEST_P(KernelTargets, ActivationsMatchReference) {
  for (Activation act :
       {Activation::Relu, Activation::GeluErf, Activation::GeluTanh, Activation::Silu})
    for (size_t n : {1u, 5u, 16u, 37u, 40000u}) {
      const auto x = random_vec(n, 4, 6.0f);
      auto y = x;
      activate(act, y.data(), n);
      for (size_t i = 0; i < n; ++i)
        ASSERT_NEAR(y[i], reference_activation(act, x[i]), 1e-6 * (1 + std::abs(x[i])))
            << "act " << int(act) << " n " << n << " x " << x[i];
    }
}

INSTANTIATE_TEST_SUITE_P(Each, KernelTargets,
                         ::testing::ValuesIn(qkv::simd_test::compiled_simd_targets()),
                         [](const auto& info) { return std::string(hwy::TargetName(info.param)); });

}  // namespace
