// Plugin positional-rope: rotary positions on q and k, in place.
// Config: layout (neox | gptj, default neox), base (default 10000), rotary_fraction (default
// 1.0), head_dim (default 0: any), max_positions (default 0: unbounded), scaling (none | linear |
// llama3, default none) with factor, low_freq_factor, high_freq_factor, original_max_positions
// (the HF rope_scaling fields, plugins/positional-rope/rope.hpp).
#include <qkv/plugin.hpp>

#include <stdexcept>
#include <string>

#include "rope.hpp"

namespace {

using qkv::sdk::Error;

class RopePlugin final : public qkv::sdk::Positional {
 public:
  static constexpr qkv_config_key config_keys[] = {
      {"layout", QKV_KEY_STRING, 0},           {"base", QKV_KEY_NUMBER, 0},
      {"rotary_fraction", QKV_KEY_NUMBER, 0},  {"max_positions", QKV_KEY_INTEGER, 0},
      {"head_dim", QKV_KEY_INTEGER, 0},        {"scaling", QKV_KEY_STRING, 0},
      {"factor", QKV_KEY_NUMBER, 0},           {"low_freq_factor", QKV_KEY_NUMBER, 0},
      {"high_freq_factor", QKV_KEY_NUMBER, 0}, {"original_max_positions", QKV_KEY_NUMBER, 0}};

  RopePlugin(qkv::sdk::Host&, qkv::sdk::Config config)
      : rope_(make(config)), head_dim_(config.integer_or<uint32_t>("head_dim", 0)) {
    if (head_dim_ != 0) {
      try {
        rope_.rotary_dim(head_dim_);
      } catch (const std::invalid_argument& e) {
        throw Error(QKV_ERR_CONFIG, config.where("") + ": positional-rope: " + e.what());
      }
    }
  }

  qkv_positional_info info() override {
    qkv_positional_info out{};
    out.mode = QKV_POSITIONAL_ROTARY;
    out.max_positions = rope_.max_positions();
    out.dim = head_dim_;
    return out;
  }

  void rotate(float* x, size_t n, uint32_t heads, uint32_t head_dim, size_t row_stride,
              std::span<const int32_t> positions) override {
    if (n > 0 && !positions.data()) throw Error(QKV_ERR_INVALID_ARGUMENT, "positions is null");
    if (head_dim_ != 0 && head_dim != head_dim_)
      throw Error(QKV_ERR_INVALID_ARGUMENT,
                  "positional-rope was configured for head_dim " + std::to_string(head_dim_) +
                      ", called with head_dim " + std::to_string(head_dim));
    rope_.rotate(x, heads, head_dim, row_stride, positions);  // guarded maps std exceptions
  }

 private:
  static qkv::positional::Rope make(const qkv::sdk::Config& config) {
    std::string layout = config.string_or("layout", "neox");
    double base = config.number_or("base", 10000.0);
    double fraction = config.number_or("rotary_fraction", 1.0);
    auto max_positions = config.integer_or<int64_t>("max_positions", 0);
    try {
      qkv::positional::RopeScaling scaling;
      scaling.kind = qkv::positional::parse_rope_scaling(config.string_or("scaling", "none"));
      scaling.factor = config.number_or("factor", 1.0);
      scaling.low_freq_factor = config.number_or("low_freq_factor", 1.0);
      scaling.high_freq_factor = config.number_or("high_freq_factor", 4.0);
      scaling.original_max_positions = config.number_or("original_max_positions", 0.0);
      return qkv::positional::Rope(qkv::positional::parse_rope_layout(layout), base, fraction,
                                   max_positions, scaling);
    } catch (const std::invalid_argument& e) {
      throw Error(QKV_ERR_CONFIG, config.where("") + ": positional-rope: " + e.what());
    }
  }

  qkv::positional::Rope rope_;
  uint32_t head_dim_;
};

}  // namespace

QKV_PLUGIN(qkv::sdk::Positional, RopePlugin, "positional-rope", "1.0.0",
           "Rotary positions on q and k (GPT-NeoX half-split or GPT-J interleaved)")
