#include "pipeline/client_paths.hpp"

#include "host/config_keys.hpp"
#include "host/plugin_registry.hpp"

namespace qkv::pipeline {
namespace {

// The declared path keys of the plugin `ref` names: its client scalars are resolved in place.
void check_plugin(config::PluginRef& ref, qkv_kind kind, const std::string& section,
                  const config::PipelineConfig& p, const io::PathPolicy& policy,
                  const host::PluginRegistry* plugins) {
  if (ref.config.type != QKV_VALUE_MAP || !plugins) return;
  const host::LoadedPlugin* plugin = plugins->find(kind, ref.plugin);
  if (!plugin || !plugin->descriptor) return;  // unknown keys: config_path refuses them
  for (size_t i = 0; i < ref.config.keys.size(); ++i) {
    host::ConfigValue& v = ref.config.items[i];
    if (!v.from_client || v.type != QKV_VALUE_SCALAR ||
        !host::is_path_key(*plugin->descriptor, ref.config.keys[i]))
      continue;
    v.scalar = policy.resolve_asset(v.scalar, p.dir, section + ".config." + ref.config.keys[i]);
    v.path_checked = true;
  }
}

}  // namespace

void check_client_paths(config::PipelineConfig& p, const io::PathPolicy& policy,
                        const host::PluginRegistry* plugins) {
  check_plugin(p.tokenizer, QKV_KIND_TOKENIZER, "tokenizer", p, policy, plugins);
  if (!p.model) return;
  if (p.model->path_from_client)
    p.model->path = policy.resolve_asset(p.model->path.string(), p.dir, "model.path");
  check_plugin(p.model->attention, QKV_KIND_ATTENTION, "model.attention", p, policy, plugins);
  check_plugin(p.model->positional, QKV_KIND_POSITIONAL, "model.positional", p, policy, plugins);
}

}  // namespace qkv::pipeline
