// Test plugin: additive positions PE(p)[i] = 1000 p + i; rotate is left unsupported.
#include <qkv/plugin.hpp>

#include <stdexcept>

namespace {

class Ramp : public qkv::sdk::Positional {
 public:
  Ramp(qkv::sdk::Host&, qkv::sdk::Config config)
      : max_(config.integer_or<int64_t>("max_positions", 0)) {}

  qkv_positional_info info() override {
    qkv_positional_info i{};
    i.mode = QKV_POSITIONAL_ADDITIVE;
    i.max_positions = max_;
    return i;
  }

  void add(float* x, size_t n, uint32_t dim, size_t row_stride,
           std::span<const int32_t> positions) override {
    for (size_t t = 0; t < n; ++t) {
      // A plain std::out_of_range: the SDK's trampoline reports it as QKV_ERR_OUT_OF_RANGE.
      if (max_ && positions[t] >= max_)
        throw std::out_of_range("position " + std::to_string(positions[t]) + " >= max_positions");
      for (uint32_t i = 0; i < dim; ++i) x[t * row_stride + i] += 1000.0f * positions[t] + i;
    }
  }

 private:
  int64_t max_;
};

}  // namespace

QKV_PLUGIN(qkv::sdk::Positional, Ramp, "test-ramp", "1.0.0", "additive ramp for host tests")
