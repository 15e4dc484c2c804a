// Shared by the model tests that run whole models: the bundled plugins (built into
// QKV_PLUGIN_DIR) and a model with the positional plugins its config.json implies, exactly as
// the ModelStage gets them (daemon/model/plugin_positions.hpp): the runtime has no positions of
// its own.
#pragma once

#include <filesystem>
#include <memory>

#include "host/plugin_registry.hpp"
#include "model/model_dir.hpp"
#include "model/plugin_positions.hpp"
#include "model/tensor_cache.hpp"

namespace qkv::model::testing {

inline const host::PluginRegistry& bundled_plugins() {
  static const host::PluginRegistry r = [] {
    host::PluginRegistry reg;
    reg.load_directory(QKV_PLUGIN_DIR);
    return reg;
  }();
  return r;
}

inline PluginSource plugin_source(const std::filesystem::path& safetensors) {
  return {&bundled_plugins(), safetensors.parent_path(), "",
          TensorCache::lookup(std::make_shared<TensorCache>(safetensors))};
}

// A Transformer and its positions; components() as the stage builds them.
struct PluggedModel {
  PluggedModel(Transformer t, const std::filesystem::path& safetensors)
      : transformer(std::make_unique<Transformer>(std::move(t))),
        positions(*transformer, {}, plugin_source(safetensors)) {}
  Components components(const Attention& attention) const {
    return positions.components(attention);
  }
  std::unique_ptr<Transformer> transformer;
  ModelPositions positions;
};

inline PluggedModel load_plugged(const std::filesystem::path& dir) {
  return PluggedModel(load_model_dir(dir), dir / "model.safetensors");
}

}  // namespace qkv::model::testing
