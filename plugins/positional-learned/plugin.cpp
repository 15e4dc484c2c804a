// Plugin positional-learned: adds rows of a learned position table from the model weights.
// Config: tensor (required, e.g. "wpe.weight"), a [rows, dim] f32 tensor the host's tensor
// lookup provides; offset (default 0): position p reads row p + offset, so max_positions is
// rows - offset (RoBERTa: padding_idx + 1, BART: 2).
#include <qkv/plugin.hpp>

#include <stdexcept>
#include <string>

#include "learned.hpp"

namespace {

using qkv::sdk::Error;

class LearnedPlugin final : public qkv::sdk::Positional {
 public:
  static constexpr qkv_config_key config_keys[] = {{"tensor", QKV_KEY_STRING, 0},
                                                   {"offset", QKV_KEY_INTEGER, 0}};

  LearnedPlugin(qkv::sdk::Host& host, qkv::sdk::Config config) : table_(load(host, config)) {}

  qkv_positional_info info() override {
    qkv_positional_info out{};
    out.mode = QKV_POSITIONAL_ADDITIVE;
    out.max_positions = table_.rows();
    out.dim = static_cast<uint32_t>(table_.dim());
    return out;
  }

  void add(float* x, size_t n, uint32_t dim, size_t row_stride,
           std::span<const int32_t> positions) override {
    if (n > 0 && !positions.data()) throw Error(QKV_ERR_INVALID_ARGUMENT, "positions is null");
    table_.add(x, dim, row_stride, positions);  // guarded maps its std exceptions to statuses
  }

 private:
  static qkv::positional::LearnedTable load(qkv::sdk::Host& host, const qkv::sdk::Config& config) {
    std::string name = config.required_string("tensor");
    qkv_tensor_view view = host.tensor(name);
    if (view.ndim != 2)
      throw Error(QKV_ERR_CONFIG, config.where("tensor") + ": positional-learned: tensor '" + name +
                                      "' has " + std::to_string(view.ndim) +
                                      " dimensions, expected 2 ([max_positions, dim])");
    if (view.shape[1] > INT32_MAX)
      throw Error(QKV_ERR_CONFIG, "positional-learned: tensor '" + name + "' is too wide");
    const auto offset = config.integer_or<int64_t>("offset", 0);
    if (offset < 0 || offset >= view.shape[0])
      throw Error(QKV_ERR_CONFIG, config.where("offset") + ": positional-learned: offset " +
                                      std::to_string(offset) + " must be >= 0 and below the " +
                                      std::to_string(view.shape[0]) + " rows of tensor '" + name +
                                      "'");
    try {
      return qkv::positional::LearnedTable(name, view.data + offset * view.shape[1],
                                           view.shape[0] - offset, view.shape[1]);
    } catch (const std::invalid_argument& e) {
      throw Error(QKV_ERR_CONFIG, config.where("tensor") + ": positional-learned: " + e.what());
    }
  }

  qkv::positional::LearnedTable table_;
};

}  // namespace

QKV_PLUGIN(qkv::sdk::Positional, LearnedPlugin, "positional-learned", "1.0.0",
           "Learned absolute positions read from the model weights (e.g. GPT-2 wpe)")
