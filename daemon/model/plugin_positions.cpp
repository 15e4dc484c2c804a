#include "model/plugin_positions.hpp"

#include <charconv>
#include <string>

#include "host/plugin_instance.hpp"
#include "host/positional_handle.hpp"
#include "model/error.hpp"

namespace qkv::model {

namespace {

class PluginPositions final : public PositionalEncoding {
 public:
  explicit PluginPositions(std::shared_ptr<host::PluginInstance> i) : handle_(std::move(i)) {}
  bool rotary() const override { return handle_.rotary(); }
  int64_t max_positions() const override { return handle_.info().max_positions; }
  void add(float* x, uint32_t dim, size_t stride, std::span<const int32_t> pos) const override {
    handle_.add(x, dim, stride, pos);
  }
  void rotate(float* x, uint32_t heads, uint32_t hd, size_t stride,
              std::span<const int32_t> pos) const override {
    handle_.rotate(x, heads, hd, stride, pos);
  }
  const host::PositionalHandle& handle() const noexcept { return handle_; }

 private:
  host::PositionalHandle handle_;
};

host::ConfigValue scalar(std::string text) {
  host::ConfigValue v;
  v.type = QKV_VALUE_SCALAR;
  v.scalar = std::move(text);
  return v;
}

// Shortest text that reads back as the same double (plugins parse numbers with std::stod).
std::string number_text(double x) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

config::PluginRef plugin_ref(std::string plugin,
                             std::initializer_list<std::pair<const char*, std::string>> keys) {
  config::PluginRef ref;
  ref.plugin = std::move(plugin);
  ref.config.type = QKV_VALUE_MAP;
  for (const auto& [key, text] : keys) {
    ref.config.keys.emplace_back(key);
    ref.config.items.push_back(scalar(text));
  }
  return ref;
}

void add_key(config::PluginRef& ref, const char* key, std::string text) {
  ref.config.keys.emplace_back(key);
  ref.config.items.push_back(scalar(std::move(text)));
}

// The plugin must fit the model: additive ones its d_model, rotary ones its head width.
void check_fits(const PluginPositions& p, const ModelConfig& c) {
  const auto& info = p.handle().info();
  const uint32_t want = p.rotary() ? c.head_dim() : c.d_model;
  const char* what = p.rotary() ? "head_dim" : "dim";
  if (info.dim != 0 && info.dim != want)
    throw ModelError("positional plugin '" + p.handle().plugin().name + "' is configured for " +
                     what + " " + std::to_string(info.dim) + ", the model's " + what + " is " +
                     std::to_string(want));
}

}  // namespace

std::optional<config::PluginRef> implied_positional(const ModelConfig& c, const StackWeights& st) {
  const std::string max = std::to_string(c.max_positions);
  switch (c.positions) {
    case Positions::None:
      return std::nullopt;
    case Positions::Learned: {
      auto ref = plugin_ref("positional-learned", {{"tensor", st.positions_tensor}});
      if (c.position_offset != 0) add_key(ref, "offset", std::to_string(c.position_offset));
      return ref;
    }
    case Positions::Sinusoidal:
      return plugin_ref("positional-sinusoidal",
                        {{"base", number_text(c.sinusoidal_base)},
                         {"max_positions", max},
                         {"layout", c.sinusoidal_half ? "half" : "interleaved"}});
    case Positions::Rotary: {
      auto ref = plugin_ref(
          "positional-rope",
          {{"layout", "neox"}, {"base", number_text(c.rope_base)}, {"max_positions", max}});
      const auto& s = c.rope_scaling;
      if (!s.type.empty()) {  // HF rope_scaling, same names (plugins/positional-rope/plugin.cpp)
        add_key(ref, "scaling", s.type);
        add_key(ref, "factor", number_text(s.factor));
        add_key(ref, "low_freq_factor", number_text(s.low_freq_factor));
        add_key(ref, "high_freq_factor", number_text(s.high_freq_factor));
        add_key(ref, "original_max_positions", std::to_string(s.original_max_positions));
      }
      return ref;
    }
  }
  return std::nullopt;
}

ModelPositions::ModelPositions(const Transformer& model, const config::PluginRef& chosen,
                               const PluginSource& source) {
  const auto& c = model.config();
  auto make = [&](const config::PluginRef& ref) {
    auto p = std::make_shared<PluginPositions>(source.create(QKV_KIND_POSITIONAL, ref, ""));
    check_fits(*p, c);
    return p;
  };
  if (!chosen.plugin.empty()) {
    encoder_ = decoder_ = make(chosen);
  } else {
    if (c.has_encoder())
      if (auto ref = implied_positional(c, model.weights().encoder)) encoder_ = make(*ref);
    if (c.has_decoder())
      if (auto ref = implied_positional(c, model.weights().decoder)) decoder_ = make(*ref);
  }
  if (!c.has_encoder()) encoder_.reset();
  if (!c.has_decoder()) decoder_.reset();
}

Components ModelPositions::components(const Attention& attention) const {
  Components b;
  b.attention = &attention;
  b.encoder_positions = encoder_.get();
  b.decoder_positions = decoder_.get();
  return b;
}

}  // namespace qkv::model
