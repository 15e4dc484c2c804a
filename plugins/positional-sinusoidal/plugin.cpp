// Plugin positional-sinusoidal: adds fixed sinusoidal position vectors to embeddings.
// Config: base (default 10000), max_positions (default 0: unbounded), dim (default 0: any),
// layout: interleaved (default; sin, cos pairs) | half (sines first, then cosines: Marian).
#include <qkv/plugin.hpp>

#include <stdexcept>
#include <string>

#include "sinusoidal.hpp"

namespace {

using qkv::sdk::Error;

class SinusoidalPlugin final : public qkv::sdk::Positional {
 public:
  static constexpr qkv_config_key config_keys[] = {{"base", QKV_KEY_NUMBER, 0},
                                                   {"max_positions", QKV_KEY_INTEGER, 0},
                                                   {"dim", QKV_KEY_INTEGER, 0},
                                                   {"layout", QKV_KEY_STRING, 0}};

  SinusoidalPlugin(qkv::sdk::Host&, qkv::sdk::Config config)
      : table_(make(config)), dim_(config.integer_or<uint32_t>("dim", 0)) {}

  qkv_positional_info info() override {
    qkv_positional_info out{};
    out.mode = QKV_POSITIONAL_ADDITIVE;
    out.max_positions = table_.max_positions();
    out.dim = dim_;
    return out;
  }

  void add(float* x, size_t n, uint32_t dim, size_t row_stride,
           std::span<const int32_t> positions) override {
    if (n > 0 && !positions.data()) throw Error(QKV_ERR_INVALID_ARGUMENT, "positions is null");
    if (dim_ != 0 && dim != dim_)
      throw Error(QKV_ERR_INVALID_ARGUMENT, "positional-sinusoidal was configured for dim " +
                                                std::to_string(dim_) + ", called with dim " +
                                                std::to_string(dim));
    table_.add(x, dim, row_stride, positions);  // guarded maps its std exceptions to statuses
  }

 private:
  static qkv::positional::Sinusoidal make(const qkv::sdk::Config& config) {
    double base = config.number_or("base", 10000.0);
    auto max_positions = config.integer_or<int64_t>("max_positions", 0);
    const std::string layout = config.string_or("layout", "interleaved");
    if (layout != "interleaved" && layout != "half")
      throw Error(QKV_ERR_CONFIG, config.where("layout") +
                                      ": positional-sinusoidal: layout must be interleaved or "
                                      "half, found '" +
                                      layout + "'");
    try {
      return qkv::positional::Sinusoidal(base, max_positions,
                                         layout == "half"
                                             ? qkv::positional::SinusoidalLayout::Half
                                             : qkv::positional::SinusoidalLayout::Interleaved);
    } catch (const std::invalid_argument& e) {
      throw Error(QKV_ERR_CONFIG, config.where("") + ": positional-sinusoidal: " + e.what());
    }
  }

  qkv::positional::Sinusoidal table_;
  uint32_t dim_;
};

}  // namespace

QKV_PLUGIN(qkv::sdk::Positional, SinusoidalPlugin, "positional-sinusoidal", "1.0.0",
           "Fixed sinusoidal positions (Vaswani et al. 2017), added to embeddings")
