// A Tokenizer backed by a tokenizer plugin, created from a pipeline's `tokenizer:` section.
#pragma once

#include <map>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "config/pipeline_config.hpp"
#include "pipeline/tokenizer.hpp"

namespace qkv::host {
class PluginRegistry;
class PluginInstance;
}  // namespace qkv::host

namespace qkv {

// Plugin instances shared by jobs whose tokenizer section is the same (plugin, folder and
// config subtree), so a daemon loads a vocabulary once, not per job. Thread-safe. Drop it
// (make a new one) when plugins or pipelines are reloaded.
class TokenizerCache {
 public:
  std::shared_ptr<host::PluginInstance> get(
      const std::string& key, const std::function<std::shared_ptr<host::PluginInstance>()>& make);
  size_t size() {
    std::lock_guard lock(mutex_);
    return instances_.size();
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<host::PluginInstance>> instances_;
};

// Throws (PluginError, std::runtime_error) naming the pipeline file when the plugin is not
// loaded or refuses its config.
std::shared_ptr<const Tokenizer> make_plugin_tokenizer(const config::PipelineConfig& pipeline,
                                                       const host::PluginRegistry& plugins,
                                                       TokenizerCache* cache = nullptr);

}  // namespace qkv
