// Sinusoidal positions (Vaswani et al. 2017), the math behind plugin positional-sinusoidal:
//   interleaved: PE(pos, 2i) = sin(pos / base^(2i/d)),  PE(pos, 2i+1) = cos(pos / base^(2i/d));
//   half (HF MarianSinusoidalPositionalEmbedding): the sines in columns [0, ceil(d/2)), the
//   cosines of the same frequencies in [ceil(d/2), d).
// Angles and sines are computed in double and rounded once to float, so results match a
// float64 reference to the last float bit whatever the position.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace qkv::positional {

enum class SinusoidalLayout { Interleaved, Half };

class Sinusoidal {
 public:
  // max_positions 0: unbounded. Throws std::invalid_argument when base <= 1.
  explicit Sinusoidal(double base = 10000.0, int64_t max_positions = 0,
                      SinusoidalLayout layout = SinusoidalLayout::Interleaved);

  double base() const noexcept { return base_; }
  int64_t max_positions() const noexcept { return max_positions_; }
  SinusoidalLayout layout() const noexcept { return layout_; }

  // The PE row of `position` for model width `dim`, as doubles (for tests and tools).
  std::vector<double> row(int64_t position, uint32_t dim) const;

  // x[t*row_stride + i] += PE(positions[t])[i] for i < dim. Checks every position first and
  // throws std::out_of_range naming the offending one, leaving x untouched.
  void add(float* x, uint32_t dim, size_t row_stride, std::span<const int32_t> positions) const;

 private:
  std::vector<double> inverse_frequencies(uint32_t dim) const;
  // Column of pair i's sine and cosine for width dim.
  uint32_t sin_column(uint32_t i) const noexcept;
  uint32_t cos_column(uint32_t i, uint32_t dim) const noexcept;
  double base_;
  int64_t max_positions_;
  SinusoidalLayout layout_;
};

}  // namespace qkv::positional
