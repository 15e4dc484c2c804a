#include "host/plugin_instance.hpp"

#include "crash/call_slot.hpp"
#include "host/config_keys.hpp"
#include "host/plugin_error.hpp"

namespace qkv::host {

PluginInstance::PluginInstance(const LoadedPlugin& plugin, InstanceConfig config)
    : plugin_(plugin),
      context_(plugin.name + " (" + plugin.file.string() + ")"),
      services_(std::make_unique<HostServices>(plugin.name, std::move(config))) {
  // Declared keys are checked before the plugin runs: its defaults never hide a typo.
  std::string wrong = check_declared_keys(
      *plugin_.descriptor, services_->config()->root,
      [&](std::string_view key) { return services_->where(services_->config(), key); });
  if (!wrong.empty()) throw PluginError(QKV_ERR_CONFIG, wrong);
  qkv_instance* first = create_one();
  if (plugin_.thread_safe()) {
    shared_ = first;
  } else {
    all_.push_back(first);
    idle_.push_back(first);  // never allocates in release(): capacity follows all_
  }
}

PluginInstance::~PluginInstance() {
  crash::CallScope call(plugin_.name, "destroy");
  if (shared_) plugin_.descriptor->destroy(shared_);
  for (qkv_instance* i : all_) plugin_.descriptor->destroy(i);
}

qkv_instance* PluginInstance::create_one() {
  qkv_instance* out = nullptr;
  crash::CallScope call(plugin_.name, "create");
  qkv_error* error = plugin_.descriptor->create(services_->table(), services_->config(), &out);
  if (error) error->message = services_->readable(std::move(error->message));
  throw_if_error(error, context_ + ": create failed");
  if (!out)
    throw PluginError(QKV_ERR_INTERNAL,
                      context_ + ": create failed: it returned no error and no instance");
  return out;
}

PluginInstance::Lease PluginInstance::acquire() {
  if (shared_) return Lease(nullptr, shared_);
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      qkv_instance* i = idle_.back();
      idle_.pop_back();
      return Lease(this, i);
    }
  }
  qkv_instance* fresh = create_one();  // outside the lock: create may be slow
  std::lock_guard lock(mutex_);
  try {
    all_.push_back(fresh);
    idle_.reserve(all_.size());  // so release() never allocates
  } catch (...) {
    plugin_.descriptor->destroy(fresh);
    throw;
  }
  return Lease(this, fresh);
}

void PluginInstance::release(qkv_instance* instance) noexcept {
  std::lock_guard lock(mutex_);
  idle_.push_back(instance);  // capacity reserved: all_ is never smaller than idle_
}

std::shared_ptr<PluginInstance> create_instance(const LoadedPlugin& plugin, ConfigValue config,
                                                std::filesystem::path config_dir,
                                                std::string source_file, TensorLookup lookup) {
  InstanceConfig settings{std::move(config), std::move(config_dir), std::move(source_file),
                          std::move(lookup)};
  return std::make_shared<PluginInstance>(plugin, std::move(settings));
}

std::shared_ptr<PluginInstance> create_instance(const LoadedPlugin& plugin,
                                                const YAML::Node& config,
                                                std::filesystem::path config_dir,
                                                std::string source_file, TensorLookup lookup) {
  return create_instance(plugin, ConfigValue::from_yaml(config), std::move(config_dir),
                         std::move(source_file), std::move(lookup));
}

}  // namespace qkv::host
