// What the model runtime creates its plugin instances from (attention in daemon/model/stage.cpp,
// positions in plugin_positions.cpp): the daemon's registry, where the pipeline file lies (for
// relative paths and file:line:column in messages) and the model's tensors (host tensor lookup).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "config/pipeline_config.hpp"
#include "host/host_services.hpp"

namespace qkv::host {
class PluginInstance;
class PluginRegistry;
}  // namespace qkv::host

namespace qkv::model {

struct PluginSource {
  const host::PluginRegistry* plugins = nullptr;
  std::filesystem::path config_dir;
  std::string source_file;
  host::TensorLookup tensors;

  // An instance of the plugin `ref` names (its config subtree with it), or of `fallback` when
  // ref names none. Throws ModelError without a registry, PluginError for an unknown plugin of
  // that kind or a config the plugin refuses.
  std::shared_ptr<host::PluginInstance> create(qkv_kind kind, const config::PluginRef& ref,
                                               const std::string& fallback) const;
};

}  // namespace qkv::model
