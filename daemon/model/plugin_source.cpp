#include "model/plugin_source.hpp"

#include "host/plugin_instance.hpp"
#include "host/plugin_registry.hpp"
#include "model/error.hpp"

namespace qkv::model {

std::shared_ptr<host::PluginInstance> PluginSource::create(qkv_kind kind,
                                                           const config::PluginRef& ref,
                                                           const std::string& fallback) const {
  if (!plugins) throw ModelError("model: no plugin registry for its attention and positions");
  const std::string& name = ref.plugin.empty() ? fallback : ref.plugin;
  return host::create_instance(plugins->require(kind, name), ref.config, config_dir, source_file,
                               tensors);
}

}  // namespace qkv::model
