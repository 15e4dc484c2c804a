#include "rope.hpp"

#include <qkv/positions.hpp>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace qkv::positional {

RopeLayout parse_rope_layout(std::string_view name) {
  if (name == "neox") return RopeLayout::neox;
  if (name == "gptj") return RopeLayout::gptj;
  throw std::invalid_argument("layout must be 'neox' (half-split) or 'gptj' (interleaved), got '" +
                              std::string(name) + "'");
}

RopeScaling::Kind parse_rope_scaling(std::string_view name) {
  if (name == "none") return RopeScaling::Kind::none;
  if (name == "linear") return RopeScaling::Kind::linear;
  if (name == "llama3") return RopeScaling::Kind::llama3;
  throw std::invalid_argument("scaling must be 'none', 'linear' or 'llama3', got '" +
                              std::string(name) + "'");
}

Rope::Rope(RopeLayout layout, double base, double rotary_fraction, int64_t max_positions,
           RopeScaling scaling)
    : layout_(layout),
      base_(base),
      fraction_(rotary_fraction),
      max_positions_(max_positions),
      scaling_(scaling) {
  if (scaling.kind != RopeScaling::Kind::none &&
      !(scaling.factor >= 1.0 && std::isfinite(scaling.factor)))
    throw std::invalid_argument("factor must be a finite number >= 1, got " +
                                std::to_string(scaling.factor));
  if (scaling.kind == RopeScaling::Kind::llama3) {
    if (!(scaling.high_freq_factor > scaling.low_freq_factor && scaling.low_freq_factor > 0))
      throw std::invalid_argument(
          "llama3 scaling needs 0 < low_freq_factor < high_freq_factor, got " +
          std::to_string(scaling.low_freq_factor) + " and " +
          std::to_string(scaling.high_freq_factor));
    if (!(scaling.original_max_positions > 0))
      throw std::invalid_argument("llama3 scaling needs original_max_positions > 0");
  }
  if (!(base > 1.0) || !std::isfinite(base))
    throw std::invalid_argument("base must be a finite number > 1, got " + std::to_string(base));
  if (!(rotary_fraction > 0.0 && rotary_fraction <= 1.0))
    throw std::invalid_argument("rotary_fraction must be in (0, 1], got " +
                                std::to_string(rotary_fraction));
  if (max_positions < 0)
    throw std::invalid_argument("max_positions must be >= 0, got " + std::to_string(max_positions));
}

uint32_t Rope::rotary_dim(uint32_t head_dim) const {
  auto r = static_cast<uint32_t>(fraction_ * head_dim);
  if (r == 0 || r % 2 != 0)
    throw std::invalid_argument("rotary_dim = floor(rotary_fraction " + std::to_string(fraction_) +
                                " * head_dim " + std::to_string(head_dim) +
                                ") = " + std::to_string(r) + " must be even and > 0");
  return r;
}

std::vector<double> Rope::inv_freq(uint32_t rd) const {
  const uint32_t half = rd / 2;
  std::vector<double> inv(half);
  for (uint32_t i = 0; i < half; ++i)
    inv[i] = std::pow(base_, -static_cast<double>(2 * i) / static_cast<double>(rd));
  const auto& s = scaling_;
  if (s.kind == RopeScaling::Kind::linear) {
    for (auto& f : inv) f /= s.factor;
  } else if (s.kind == RopeScaling::Kind::llama3) {
    const double pi = 3.14159265358979323846;
    const double low_wavelen = s.original_max_positions / s.low_freq_factor;
    const double high_wavelen = s.original_max_positions / s.high_freq_factor;
    for (auto& f : inv) {
      const double wavelen = 2 * pi / f;
      if (wavelen > low_wavelen) {
        f /= s.factor;
      } else if (wavelen >= high_wavelen) {  // medium: blend the scaled and the kept frequency
        const double smooth = (s.original_max_positions / wavelen - s.low_freq_factor) /
                              (s.high_freq_factor - s.low_freq_factor);
        f = (1 - smooth) * f / s.factor + smooth * f;
      }
    }
  }
  return inv;
}

void Rope::rotate(float* x, uint32_t heads, uint32_t head_dim, size_t row_stride,
                  std::span<const int32_t> positions) const {
  if (positions.empty()) return;
  if (!x) throw std::invalid_argument("x is null");
  if (heads == 0 || head_dim == 0) throw std::invalid_argument("heads and head_dim must be > 0");
  if (row_stride < size_t{heads} * head_dim)
    throw std::invalid_argument("row_stride " + std::to_string(row_stride) + " < heads*head_dim " +
                                std::to_string(size_t{heads} * head_dim));
  const uint32_t rd = rotary_dim(head_dim);
  sdk::check_positions(positions, max_positions_);
  const uint32_t half = rd / 2;
  const std::vector<double> inv = inv_freq(rd);
  std::vector<double> cs(half), sn(half);
  // The pair's partner lies `half` away (neox) or next door (gptj).
  const uint32_t step = layout_ == RopeLayout::neox ? 1 : 2;
  const uint32_t partner = layout_ == RopeLayout::neox ? half : 1;
  for (size_t t = 0; t < positions.size(); ++t) {
    const double pos = positions[t];
    for (uint32_t i = 0; i < half; ++i) {  // once per token, shared by every head
      cs[i] = std::cos(pos * inv[i]);
      sn[i] = std::sin(pos * inv[i]);
    }
    for (uint32_t h = 0; h < heads; ++h) {
      float* v = x + t * row_stride + size_t{h} * head_dim;
      for (uint32_t i = 0; i < half; ++i) {
        float* a = v + i * step;
        float* b = a + partner;
        const double x1 = *a, x2 = *b;
        *a = static_cast<float>(x1 * cs[i] - x2 * sn[i]);
        *b = static_cast<float>(x2 * cs[i] + x1 * sn[i]);
      }
    }
  }
}

}  // namespace qkv::positional
