#include "cli/cli_context.hpp"

#include "config/install_layout.hpp"

#include <unistd.h>

#include <cstdlib>
#include <system_error>

namespace qkv::cli {
namespace fs = std::filesystem;

fs::path CliContext::config_path() const {
  if (!config_file.empty()) return config_file;
  return config::default_config_file();
}

const config::DaemonConfig& CliContext::daemon_config() {
  if (!daemon_) {
    config::Overrides sets;
    for (const auto& s : config_sets) {
      auto eq = s.find('=');
      sets.emplace_back(s.substr(0, eq), eq == std::string::npos ? "" : s.substr(eq + 1));
    }
    const fs::path file = config_path();
    if (file.empty()) {
      fs::path dir = config::executable_dir() / "../share/qkv/pipelines";
      daemon_ = config::default_daemon_config(dir.lexically_normal());
    } else {
      daemon_ = config::load_daemon_config(file, sets);
    }
  }
  return *daemon_;
}

std::vector<fs::path> plugin_dirs_for(const config::DaemonConfig& cfg) {
  std::vector<fs::path> dirs;
  std::error_code ec;
  // The build tree puts plugins in <build>/plugins beside <build>/bin; an install in
  // <prefix>/lib/qkv/plugins beside <prefix>/bin. The first that exists is the built-in one.
  for (const char* rel : {"../plugins", "../lib/qkv/plugins"}) {
    fs::path d = (config::executable_dir() / rel).lexically_normal();
    if (fs::is_directory(d, ec)) {
      dirs.push_back(d);
      break;
    }
  }
  // Configured folders are optional (config/daemon_config.cpp): only those present are read.
  for (const auto& d : cfg.plugin_dirs)
    if (fs::is_directory(d, ec)) dirs.push_back(d);
  return dirs;
}

std::vector<fs::path> CliContext::plugin_dirs() { return plugin_dirs_for(daemon_config()); }

const host::PluginRegistry& CliContext::plugins() {
  if (!registry_) registry_ = std::make_unique<host::PluginRegistry>();
  if (!all_loaded_) {
    registry_->load_directories(plugin_dirs());  // those plugins_named has not loaded
    all_loaded_ = true;
  }
  return *registry_;
}

const host::PluginRegistry& CliContext::plugins_named(
    std::span<const std::pair<qkv_kind, std::string>> wanted) {
  if (registry_ && all_loaded_) return *registry_;
  if (!registry_) registry_ = std::make_unique<host::PluginRegistry>();
  const auto dirs = plugin_dirs();
  for (const auto& [kind, name] : wanted) registry_->load_named(dirs, kind, name);
  return *registry_;
}

}  // namespace qkv::cli
