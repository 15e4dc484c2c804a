#include "sinusoidal.hpp"

#include <qkv/positions.hpp>

#include <cmath>
#include <stdexcept>
#include <string>

namespace qkv::positional {

Sinusoidal::Sinusoidal(double base, int64_t max_positions)
    : base_(base), max_positions_(max_positions) {
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

std::vector<double> Sinusoidal::row(int64_t position, uint32_t dim) const {
  auto inv = inverse_frequencies(dim);
  std::vector<double> out(dim);
  for (uint32_t i = 0; i < dim; ++i) {
    double angle = static_cast<double>(position) * inv[i / 2];
    out[i] = (i % 2 == 0) ? std::sin(angle) : std::cos(angle);
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
    for (uint32_t i = 0; i < dim; i += 2) {
      double angle = pos * inv[i / 2];
      row[i] = static_cast<float>(row[i] + std::sin(angle));
      if (i + 1 < dim) row[i + 1] = static_cast<float>(row[i + 1] + std::cos(angle));
    }
  }
}

}  // namespace qkv::positional
