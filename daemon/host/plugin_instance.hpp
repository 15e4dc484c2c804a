// A created plugin instance, whatever its kind. For a plugin flagged
// QKV_PLUGIN_FLAG_NOT_THREAD_SAFE it is a pool: each concurrent caller leases its own instance
// (created on demand with the same config), so no instance ever runs on two threads at once.
#pragma once

#include "host/host_services.hpp"
#include "host/plugin_error.hpp"
#include "host/plugin_registry.hpp"

#include <memory>
#include <mutex>
#include <vector>

namespace qkv::host {

class PluginInstance {
 public:
  // Creates the first instance at once, so config errors surface here (PluginError whose
  // message names the plugin, its file and the plugin's own message).
  PluginInstance(const LoadedPlugin& plugin, InstanceConfig config);
  ~PluginInstance();
  PluginInstance(const PluginInstance&) = delete;
  PluginInstance& operator=(const PluginInstance&) = delete;

  const LoadedPlugin& plugin() const noexcept { return plugin_; }
  const void* api() const noexcept { return plugin_.descriptor->api; }
  HostServices& services() noexcept { return *services_; }
  const HostServices& services() const noexcept { return *services_; }

  // Exclusive (or, for thread-safe plugins, shared) use of one qkv_instance for one call.
  class Lease {
   public:
    Lease(PluginInstance* owner, qkv_instance* instance) : owner_(owner), instance_(instance) {}
    Lease(Lease&& o) noexcept : owner_(o.owner_), instance_(o.instance_) { o.owner_ = nullptr; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (owner_) owner_->release(instance_);
    }
    qkv_instance* get() const noexcept { return instance_; }

   private:
    PluginInstance* owner_;  // null: nothing to give back
    qkv_instance* instance_;
  };
  Lease acquire();

  // "plugin 'name' (file)": the context of every error message about this instance.
  const std::string& context() const noexcept { return context_; }

 private:
  qkv_instance* create_one();
  void release(qkv_instance* instance) noexcept;

  LoadedPlugin plugin_;
  std::string context_;
  std::unique_ptr<HostServices> services_;
  qkv_instance* shared_ = nullptr;  // thread-safe plugins: the one instance
  std::mutex mutex_;                // guards the pool below
  std::vector<qkv_instance*> all_;  // every instance made (destroyed in ~PluginInstance)
  std::vector<qkv_instance*> idle_;
};

// Creates an instance of `plugin` with its config subtree. `source_file` is the YAML file
// (for file:line:column in the plugin's messages); relative paths resolve against config_dir.
std::shared_ptr<PluginInstance> create_instance(const LoadedPlugin& plugin, ConfigValue config,
                                                std::filesystem::path config_dir,
                                                std::string source_file = {},
                                                TensorLookup lookup = {});
// The same from a YAML node (copied at once), for tools and tests that hold one.
std::shared_ptr<PluginInstance> create_instance(const LoadedPlugin& plugin,
                                                const YAML::Node& config,
                                                std::filesystem::path config_dir,
                                                std::string source_file = {},
                                                TensorLookup lookup = {});

}  // namespace qkv::host
