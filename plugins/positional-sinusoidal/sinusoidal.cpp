#include "sinusoidal.hpp"

#include <qkv/positions.hpp>

#include <cmath>
#include <stdexcept>
#include <string>

namespace qkv::positional {

Sinusoidal::Sinusoidal(double base, int64_t max_positions, SinusoidalLayout layout)
    : base_(base), max_positions_(max_positions), layout_(layout) {
  if (!(base > 1.0) || !std::isfinite(base))
    throw std::invalid_argument("base must be a finite number > 1, got " + std::to_string(base));
  if (max_positions < 0)
    throw std::invalid_argument("max_positions must be >= 0, got " + std::to_string(max_positions));
}

// 1 / base^(2i/d) for each pair i: shared by the sine (even) and cosine (odd) column.
std::vector<double> Sinusoidal::inverse_frequencies(uint32_t dim) const {
  std::vector<double> inv((dim + 1) / 2);
  for (size_t i = 0; i < inv.size(); ++i)
    inv[i] = std::pow(base_, -static_cast<double>(2 * i) / static_cast<double>(dim));
  return inv;
}

uint32_t Sinusoidal::sin_column(uint32_t i) const noexcept {
  return layout_ == SinusoidalLayout::Half ? i : 2 * i;
}

uint32_t Sinusoidal::cos_column(uint32_t i, uint32_t dim) const noexcept {
  return layout_ == SinusoidalLayout::Half ? (dim + 1) / 2 + i : 2 * i + 1;
}

std::vector<double> Sinusoidal::row(int64_t position, uint32_t dim) const {
  auto inv = inverse_frequencies(dim);
  std::vector<double> out(dim);
  for (uint32_t i = 0; i < inv.size(); ++i) {
    const double angle = static_cast<double>(position) * inv[i];
    out[sin_column(i)] = std::sin(angle);
    if (cos_column(i, dim) < dim) out[cos_column(i, dim)] = std::cos(angle);
  }
  return out;
}

void Sinusoidal::add(float* x, uint32_t dim, size_t row_stride,
                     std::span<const int32_t> positions) const {
  if (positions.empty() || dim == 0) return;
  if (!x) throw std::invalid_argument("x is null");
  if (row_stride < dim)
    throw std::invalid_argument("row_stride " + std::to_string(row_stride) + " < dim " +
                                std::to_string(dim));
  sdk::check_positions(positions, max_positions_);
  auto inv = inverse_frequencies(dim);
  for (size_t t = 0; t < positions.size(); ++t) {
    float* row = x + t * row_stride;
    double pos = positions[t];
    for (uint32_t i = 0; i < inv.size(); ++i) {
      const double angle = pos * inv[i];
      float& s = row[sin_column(i)];
      s = static_cast<float>(s + std::sin(angle));
      if (const uint32_t c = cos_column(i, dim); c < dim)
        row[c] = static_cast<float>(row[c] + std::cos(angle));
    }
  }
}

}  // namespace qkv::positional
