// Finds, loads, negotiates and registers plugins by kind and name. A plugin that cannot be used
// is refused with one line naming the file and the cause; loading never throws and the
// process goes on (the registry logs nothing: see log_plugin_refusals). Load first (one
// thread), then look up from any number of threads.
#pragma once

#include "host/library.hpp"

#include <qkv/abi.h>

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::host {

// A plugin this host accepted. Copyable; the copy keeps the library loaded.
struct LoadedPlugin {
  std::filesystem::path file;
  std::string name;
  std::string version;
  std::string description;
  qkv_kind kind = QKV_KIND_TOKENIZER;
  uint32_t flags = 0;
  uint16_t abi_major = 0;
  uint16_t abi_minor = 0;
  const qkv_plugin_descriptor* descriptor = nullptr;
  std::shared_ptr<const Library> library;

  bool thread_safe() const noexcept { return !(flags & QKV_PLUGIN_FLAG_NOT_THREAD_SAFE); }
};

// What happened to one file (or directory) the registry was asked to load.
struct PluginReport {
  std::filesystem::path file;
  std::string name;     // empty when the descriptor could not be read
  std::string version;  // the plugin's own version
  uint32_t kind = 0;    // 0 when unknown
  uint16_t abi_major = 0, abi_minor = 0;
  bool loaded = false;
  std::string error;  // one line: "<file>: <cause>; <fix>" (empty when loaded)
};

class PluginRegistry {
 public:
  PluginRegistry() = default;
  PluginRegistry(PluginRegistry&&) noexcept = default;
  PluginRegistry& operator=(PluginRegistry&&) noexcept = default;
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  // Loads every regular `*.so` file of `dir` (sorted by name, not recursive). Returns how many
  // loaded. A missing directory is reported as a refusal.
  size_t load_directory(const std::filesystem::path& dir, LoadMode mode = LoadMode::in_place);
  // Loads one file; false when refused (see reports()).
  bool load_file(const std::filesystem::path& file, LoadMode mode = LoadMode::in_place);
  // Loads every plugin of `dirs` not tried yet (by this registry), in order. Returns how many
  // loaded.
  size_t load_directories(std::span<const std::filesystem::path> dirs,
                          LoadMode mode = LoadMode::in_place);
  // Loads only the plugin `name` of `kind`: the file qkv_<name>.so (qkv_add_plugin's name; also
  // with '-' spelled '_') from the first of `dirs` that has it, leaving the other plugins
  // unopened (`qkvd run` starts faster). When no such file provides it, every plugin of `dirs`
  // not tried yet is loaded (load_directories), so a plugin under another file name is
  // still found and a miss lists everything. Returns find(kind, name).
  const LoadedPlugin* load_named(std::span<const std::filesystem::path> dirs, qkv_kind kind,
                                 std::string_view name, LoadMode mode = LoadMode::in_place);

  const std::vector<PluginReport>& reports() const noexcept { return reports_; }
  // The refusals' one-line messages, in load order.
  std::vector<std::string> errors() const;

  const LoadedPlugin* find(qkv_kind kind, std::string_view name) const noexcept;
  // Like find, but throws PluginError(QKV_ERR_CONFIG) listing the available names of that kind.
  const LoadedPlugin& require(qkv_kind kind, std::string_view name) const;
  std::vector<const LoadedPlugin*> list(qkv_kind kind) const;
  std::vector<const LoadedPlugin*> all() const;

 private:
  bool refuse(PluginReport report, const std::string& cause);
  // The regular `*.so` files of `dir`, sorted; a missing or unlistable folder is reported.
  std::vector<std::filesystem::path> plugin_files(const std::filesystem::path& dir);
  bool tried(const std::filesystem::path& file) const noexcept;

  std::vector<std::unique_ptr<LoadedPlugin>> plugins_;
  std::vector<PluginReport> reports_;
};

}  // namespace qkv::host
