#include "host/plugin_registry.hpp"

#include "host/negotiate.hpp"
#include "host/plugin_error.hpp"

#include <algorithm>
#include <cstddef>
#include <system_error>

namespace qkv::host {
namespace fs = std::filesystem;

bool PluginRegistry::refuse(PluginReport report, const std::string& cause) {
  report.loaded = false;
  report.error = report.file.string() + ": " + cause;
  reports_.push_back(std::move(report));
  return false;
}

std::vector<fs::path> PluginRegistry::plugin_files(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> files;
  if (!fs::is_directory(dir, ec)) {
    PluginReport report;
    report.file = dir;
    refuse(std::move(report),
           "plugin directory does not exist or is not a directory; create "
           "it or fix the configured plugin_dirs");
    return files;
  }
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->path().extension() == ".so" && it->is_regular_file(type_ec))
      files.push_back(it->path());
  }
  if (ec) {
    PluginReport report;
    report.file = dir;
    refuse(std::move(report), "cannot list plugin directory: " + ec.message());
  }
  std::sort(files.begin(), files.end());
  return files;
}

size_t PluginRegistry::load_directory(const fs::path& dir, LoadMode mode) {
  size_t loaded = 0;
  for (const auto& f : plugin_files(dir)) loaded += load_file(f, mode) ? 1 : 0;
  return loaded;
}

bool PluginRegistry::tried(const fs::path& file) const noexcept {
  return std::any_of(reports_.begin(), reports_.end(),
                     [&](const PluginReport& r) { return r.file == file; });
}

const LoadedPlugin* PluginRegistry::load_named(std::span<const fs::path> dirs, qkv_kind kind,
                                               std::string_view name, LoadMode mode) {
  if (const LoadedPlugin* p = find(kind, name)) return p;
  std::string underscored(name);
  std::replace(underscored.begin(), underscored.end(), '-', '_');
  for (const auto& dir : dirs)
    for (const std::string& stem : {std::string(name), underscored}) {
      const fs::path file = dir / ("qkv_" + stem + ".so");
      std::error_code ec;
      if (tried(file) || !fs::is_regular_file(file, ec)) continue;
      load_file(file, mode);
      if (const LoadedPlugin* p = find(kind, name)) return p;
    }
  load_directories(dirs, mode);
  return find(kind, name);
}

size_t PluginRegistry::load_directories(std::span<const fs::path> dirs, LoadMode mode) {
  size_t loaded = 0;
  for (const auto& dir : dirs)
    for (const auto& f : plugin_files(dir))
      if (!tried(f)) loaded += load_file(f, mode) ? 1 : 0;
  return loaded;
}

bool PluginRegistry::load_file(const fs::path& file, LoadMode mode) {
  PluginReport report;
  report.file = file;
  std::shared_ptr<Library> library;
  try {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec))
      return refuse(std::move(report), "no such plugin file; check the path");
    library = Library::open(file, mode);
  } catch (const std::exception& e) {
    return refuse(std::move(report), std::string("cannot be loaded: ") + e.what() +
                                         "; rebuild the plugin linked with -Wl,--no-undefined to "
                                         "see missing symbols at build time");
  }

  void* entry_address = library->symbol(QKV_ENTRY_SYMBOL);
  if (!entry_address)
    return refuse(std::move(report), "no entry symbol '" QKV_ENTRY_SYMBOL
                                     "' (not a qkv plugin?); export one with the QKV_PLUGIN "
                                     "macro of <qkv/plugin.hpp>");
  auto entry = reinterpret_cast<qkv_plugin_entry_fn>(entry_address);
  const qkv_plugin_descriptor* d = nullptr;
  try {
    d = entry();
  } catch (...) {  // a C++ plugin that lets an exception out of its C entry point
    return refuse(std::move(report), "'" QKV_ENTRY_SYMBOL
                                     "' threw an exception; it must be "
                                     "noexcept (use the QKV_PLUGIN macro)");
  }
  if (d && d->struct_size >= offsetof(qkv_plugin_descriptor, kind)) {
    report.abi_major = d->abi_major;
    report.abi_minor = d->abi_minor;
  }
  if (auto cause = check_descriptor(d)) return refuse(std::move(report), *cause);

  report.name = d->name;
  report.version = d->version;
  report.kind = d->kind;
  const auto kind = static_cast<qkv_kind>(d->kind);
  if (const LoadedPlugin* other = find(kind, report.name))
    return refuse(std::move(report), "duplicate " + kind_name(kind) + " plugin name '" +
                                         report.name + "', already loaded from " +
                                         other->file.string() + "; remove or rename one of them");

  auto plugin = std::make_unique<LoadedPlugin>();
  plugin->file = file;
  plugin->name = d->name;
  plugin->version = d->version;
  plugin->description = d->description ? d->description : "";
  plugin->kind = kind;
  plugin->flags = d->flags;
  plugin->abi_major = d->abi_major;
  plugin->abi_minor = d->abi_minor;
  plugin->descriptor = d;
  plugin->library = std::move(library);
  plugins_.push_back(std::move(plugin));
  report.loaded = true;
  reports_.push_back(std::move(report));
  return true;
}

std::vector<std::string> PluginRegistry::errors() const {
  std::vector<std::string> out;
  for (const auto& r : reports_)
    if (!r.loaded) out.push_back(r.error);
  return out;
}

const LoadedPlugin* PluginRegistry::find(qkv_kind kind, std::string_view name) const noexcept {
  for (const auto& p : plugins_)
    if (p->kind == kind && p->name == name) return p.get();
  return nullptr;
}

const LoadedPlugin& PluginRegistry::require(qkv_kind kind, std::string_view name) const {
  if (const LoadedPlugin* p = find(kind, name)) return *p;
  std::string known;
  for (const LoadedPlugin* p : list(kind)) known += (known.empty() ? "" : ", ") + p->name;
  throw PluginError(QKV_ERR_CONFIG,
                    "no " + kind_name(kind) + " plugin named '" + std::string(name) +
                        "' is loaded (available: " + (known.empty() ? "none" : known) +
                        "); see `qkvd plugins` for refused plugins");
}

std::vector<const LoadedPlugin*> PluginRegistry::list(qkv_kind kind) const {
  std::vector<const LoadedPlugin*> out;
  for (const auto& p : plugins_)
    if (p->kind == kind) out.push_back(p.get());
  return out;
}

std::vector<const LoadedPlugin*> PluginRegistry::all() const {
  std::vector<const LoadedPlugin*> out;
  for (const auto& p : plugins_) out.push_back(p.get());
  return out;
}

}  // namespace qkv::host
