// Built-in positional encodings. Angles are computed in double and rounded once, the same
// convention as the positional plugins, so either source gives the same floats.
#include <cmath>
#include <string>
#include <vector>

#include "model/backends.hpp"
#include "model/config.hpp"
#include "model/error.hpp"
#include "model/weights.hpp"

namespace qkv::model {

namespace {

void check_range(std::span<const int32_t> positions, int64_t max) {
  for (int32_t p : positions)
    if (p < 0 || (max > 0 && p >= max))
      throw ModelError("position " + std::to_string(p) +
                       " is outside the model's position table (" + std::to_string(max) +
                       " positions)");
}

class Learned final : public PositionalBackend {
 public:
  Learned(const std::vector<float>& table, uint32_t rows, uint32_t dim)
      : table_(table), rows_(rows), dim_(dim) {}
  bool rotary() const override { return false; }
  int64_t max_positions() const override { return rows_; }
  void add(float* x, uint32_t dim, size_t stride, std::span<const int32_t> pos) const override {
    check_range(pos, rows_);
    if (dim != dim_) throw ModelError("learned positions: width mismatch");
    for (size_t t = 0; t < pos.size(); ++t) {
      const float* row = table_.data() + size_t(pos[t]) * dim_;
      for (uint32_t i = 0; i < dim; ++i) x[t * stride + i] += row[i];
    }
  }
  void rotate(float*, uint32_t, uint32_t, size_t, std::span<const int32_t>) const override {
    throw ModelError("learned positions are additive");
  }

 private:
  const std::vector<float>& table_;
  uint32_t rows_, dim_;
};

class Sinusoidal final : public PositionalBackend {
 public:
  Sinusoidal(double base, int64_t max) : base_(base), max_(max) {}
  bool rotary() const override { return false; }
  int64_t max_positions() const override { return max_; }
  void add(float* x, uint32_t dim, size_t stride, std::span<const int32_t> pos) const override {
    check_range(pos, max_);
    std::vector<double> inv(dim / 2 + 1);
    for (uint32_t i = 0; 2 * i < dim; ++i) inv[i] = std::pow(base_, -2.0 * i / dim);
    for (size_t t = 0; t < pos.size(); ++t)
      for (uint32_t i = 0; i < dim; ++i) {
        const double a = pos[t] * inv[i / 2];
        x[t * stride + i] += static_cast<float>(i % 2 == 0 ? std::sin(a) : std::cos(a));
      }
  }
  void rotate(float*, uint32_t, uint32_t, size_t, std::span<const int32_t>) const override {
    throw ModelError("sinusoidal positions are additive");
  }

 private:
  double base_;
  int64_t max_;
};

// NeoX layout: pairs (i, i + head_dim/2) rotated by pos * base^(-2i/head_dim).
class Rotary final : public PositionalBackend {
 public:
  Rotary(double base, int64_t max) : base_(base), max_(max) {}
  bool rotary() const override { return true; }
  int64_t max_positions() const override { return max_; }
  void add(float*, uint32_t, size_t, std::span<const int32_t>) const override {
    throw ModelError("rotary positions rotate q and k");
  }
  void rotate(float* x, uint32_t heads, uint32_t hd, size_t stride,
              std::span<const int32_t> pos) const override {
    check_range(pos, max_);
    const uint32_t half = hd / 2;
    std::vector<float> c(half), s(half);
    for (size_t t = 0; t < pos.size(); ++t) {
      for (uint32_t i = 0; i < half; ++i) {
        const double a = pos[t] * std::pow(base_, -2.0 * i / hd);
        c[i] = static_cast<float>(std::cos(a));
        s[i] = static_cast<float>(std::sin(a));
      }
      for (uint32_t h = 0; h < heads; ++h) {
        float* v = x + t * stride + size_t(h) * hd;
        for (uint32_t i = 0; i < half; ++i) {
          const float a = v[i], b = v[i + half];
          v[i] = a * c[i] - b * s[i];
          v[i + half] = b * c[i] + a * s[i];
        }
      }
    }
  }

 private:
  double base_;
  int64_t max_;
};

}  // namespace

std::unique_ptr<PositionalBackend> builtin_positions(const ModelConfig& c, const StackWeights& st) {
  switch (c.positions) {
    case Positions::None:
      return nullptr;
    case Positions::Learned:
      return std::make_unique<Learned>(st.positions, c.max_positions, c.d_model);
    case Positions::Sinusoidal:
      return std::make_unique<Sinusoidal>(c.sinusoidal_base, c.max_positions);
    case Positions::Rotary:
      return std::make_unique<Rotary>(c.rope_base, c.max_positions);
  }
  return nullptr;
}

}  // namespace qkv::model
