// The qkv_host services table one plugin instance (or a pool of them) sees: logging, errors,
// its config subtree (with file:line:column), paths relative to the config file, tensors.
#pragma once

#include "host/config_tree.hpp"

#include <qkv/abi.h>

#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

// Opaque to plugins: the config subtree a plugin is given (an immutable copy).
struct qkv_config {
  qkv::host::ConfigValue root;
};

namespace qkv::host {

// Weight tensors of the model a plugin serves, by name (nullopt: no such tensor).
using TensorLookup = std::function<std::optional<qkv_tensor_view>(std::string_view)>;

struct InstanceConfig {
  ConfigValue config;                // the plugin's own subtree (MISSING: none)
  std::filesystem::path config_dir;  // relative paths resolve against this
  std::string source_file;           // the YAML file, for file:line:column
  TensorLookup lookup;               // empty: the instance serves no model
  // Files handed out by config_path larger than this are refused before the plugin reads
  // them (0: no limit); `limit_name` is the setting the message names.
  uint64_t max_file_bytes = 0;
  std::string limit_name = "limits.max_vocab_bytes";
};

class HostServices {
 public:
  HostServices(std::string plugin_name, InstanceConfig config);
  HostServices(const HostServices&) = delete;
  HostServices& operator=(const HostServices&) = delete;

  const qkv_host* table() const noexcept { return &table_; }
  const qkv_config* config() const noexcept { return &config_; }

  // The services themselves (public for tests; plugins reach them through table()).
  qkv_value_type get(const qkv_config* cfg, std::string_view path, const char** text, size_t* size);
  qkv_value_type map_entry(const qkv_config* cfg, std::string_view path, size_t index,
                           const char** key, size_t* key_size, const char** text, size_t* size);
  std::string where(const qkv_config* cfg, std::string_view path);
  qkv_error* path(const qkv_config* cfg, std::string_view key, const char** out);
  // `message` (a plugin's error) with each /proc/self/fd/N path() handed out shown as the file
  // it stands for, so users read the path they gave.
  std::string readable(std::string message) const;
  // Bytes of the regular files handed out by path() so far: what the instance has loaded.
  uint64_t file_bytes() const;
  // The files handed out by path() so far, by config key (sorted): {key, path as handed,
  // path as the user gave it}. What the instance loaded, for the manifest's identity.
  struct LoadedFile {
    std::string key, path, shown_as;
  };
  std::vector<LoadedFile> loaded_files() const;
  qkv_error* tensor(std::string_view name, qkv_tensor_view* out);
  void log(qkv_log_level level, std::string_view message) const;

 private:
  const ConfigValue& root(const qkv_config* cfg) const noexcept {
    return cfg ? cfg->root : config_.root;
  }

  qkv_error* too_large(const qkv_config* cfg, std::string_view key,
                       const std::filesystem::path& file, uint64_t bytes);

  std::string plugin_name_;
  InstanceConfig settings_;
  qkv_config config_;
  qkv_host table_{};
  mutable std::mutex mutex_;                               // guards resolved_ and shown_as_
  std::unordered_map<std::string, std::string> resolved_;  // config_path results handed out
  std::unordered_map<std::string, std::string> shown_as_;  // "/proc/self/fd/N" -> its path
};

}  // namespace qkv::host
