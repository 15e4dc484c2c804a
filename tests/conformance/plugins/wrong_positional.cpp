// Deliberately wrong positional plugins for the conformance tests.
//   WRONG_NO_BOUNDS: additive, claims 16 positions but clamps larger ones instead of refusing.
//   WRONG_STRETCH:   rotary, but scales vectors by 1.01 (not a rotation).
#include <qkv/plugin.hpp>

#include <algorithm>
#include <cmath>

namespace {

class WrongPositional final : public qkv::sdk::Positional {
 public:
  WrongPositional(qkv::sdk::Host&, qkv::sdk::Config) {}
  qkv_positional_info info() override {
    qkv_positional_info out{};
#ifdef WRONG_NO_BOUNDS
    out.mode = QKV_POSITIONAL_ADDITIVE;
    out.max_positions = 16;
#else
    out.mode = QKV_POSITIONAL_ROTARY;
#endif
    return out;
  }
  void add(float* x, size_t n, uint32_t dim, size_t row_stride,
           std::span<const int32_t> positions) override {
    for (size_t t = 0; t < n; ++t) {
      const int32_t p = std::clamp(positions[t], 0, 15);  // the flaw: no error
      for (uint32_t i = 0; i < dim; ++i) x[t * row_stride + i] += 0.01f * p * (i + 1);
    }
  }
  void rotate(float* x, size_t n, uint32_t heads, uint32_t head_dim, size_t row_stride,
              std::span<const int32_t> positions) override {
    if (std::any_of(positions.begin(), positions.end(), [](int32_t p) { return p < 0; }))
      throw qkv::sdk::Error(QKV_ERR_OUT_OF_RANGE, "negative position");
    for (size_t t = 0; t < n; ++t)
      for (size_t i = 0; i < size_t{heads} * head_dim; ++i) x[t * row_stride + i] *= 1.01f;
  }
};

}  // namespace

QKV_PLUGIN(qkv::sdk::Positional, WrongPositional, WRONG_NAME, "0.0.1",
           "deliberately wrong positional encoding (conformance tests)")
