// positional-sinusoidal's `layout`: interleaved (Vaswani: sin, cos pairs) and half (HF
// MarianSinusoidalPositionalEmbedding: sines in [0, ceil(d/2)), cosines after), by construction
// from the formula; the Marian model fixture (tests/model/hf_fixtures/marian-tiny) checks the
// half layout against torch.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "sinusoidal.hpp"

namespace {

using namespace qkv::positional;

std::vector<double> expected_row(double pos, uint32_t dim, bool half) {
  std::vector<double> out(dim);
  const uint32_t pairs = (dim + 1) / 2;
  for (uint32_t i = 0; i < pairs; ++i) {
    const double angle = pos / std::pow(10000.0, 2.0 * i / dim);
    out[half ? i : 2 * i] = std::sin(angle);
    const uint32_t c = half ? pairs + i : 2 * i + 1;
    if (c < dim) out[c] = std::cos(angle);
  }
  return out;
}

TEST(SinusoidalLayout, RowsFollowTheFormulaForEvenAndOddWidths) {
  for (uint32_t dim : {6u, 7u})
    for (bool half : {false, true}) {
      const Sinusoidal pe(10000.0, 0,
                          half ? SinusoidalLayout::Half : SinusoidalLayout::Interleaved);
      for (int32_t pos : {0, 1, 5, 37}) {
        const auto want = expected_row(pos, dim, half);
        const auto row = pe.row(pos, dim);
        std::vector<float> x(dim, 0.5f);
        const int32_t p[] = {pos};
        pe.add(x.data(), dim, dim, p);
        for (uint32_t i = 0; i < dim; ++i) {
          EXPECT_NEAR(row[i], want[i], 1e-12) << dim << " " << half << " " << pos << " " << i;
          EXPECT_NEAR(x[i], 0.5 + want[i], 1e-6) << i;
        }
      }
    }
}

TEST(SinusoidalLayout, HalfIsNotInterleaved) {
  const Sinusoidal half(10000.0, 0, SinusoidalLayout::Half), pairs;
  EXPECT_GT(std::abs(half.row(3, 8)[1] - pairs.row(3, 8)[1]), 0.1);
}

}  // namespace
