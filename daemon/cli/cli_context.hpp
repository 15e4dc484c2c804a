// State shared by qkvd's subcommands: global options and the lazily loaded daemon config and
// plugin registry. Each subcommand lives in its own file with a register_* function; a
// component adds its command to qkvd with one line in daemon/main/qkvd.cpp.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <string>
#include <vector>

#include "config/daemon_config.hpp"
#include "host/plugin_registry.hpp"
#include "pipeline/model_stage.hpp"

namespace qkv::cli {

struct CliContext {
  std::string config_file;               // --config (empty: the default, see config_path())
  std::vector<std::string> config_sets;  // --set for the daemon config (serve only)
  std::string check_config_file;         // --check-config FILE
  // Run when no subcommand is given (the daemon's serve registers it); unset: print help.
  std::function<int()> default_action;
  // Builds model stages for `run` and the daemon (set by qkvd's main; empty: no model runtime).
  pipeline::ModelStageFactory model_stage_factory;
  // What the chosen subcommand returns as exit status.
  int exit_code = 0;

  // --config, else $QKVD_CONFIG, else /etc/qkv/qkvd.yaml, else the source tree's
  // configs/qkvd.yaml; empty if none exists (built-in defaults then).
  std::filesystem::path config_path() const;
  // The daemon config (built-in defaults when there is no file). Throws config::ConfigError.
  const config::DaemonConfig& daemon_config();
  // Every plugin folder: the built-in one next to the executable, then plugin_dirs.
  std::vector<std::filesystem::path> plugin_dirs();
  // Loads the plugins once (refusals are kept in the registry's reports).
  const host::PluginRegistry& plugins();
  // Only the plugins named (PluginRegistry::load_named), unless plugins() has loaded them all.
  const host::PluginRegistry& plugins_named(
      std::span<const std::pair<qkv_kind, std::string>> wanted);

 private:
  std::optional<config::DaemonConfig> daemon_;
  std::unique_ptr<host::PluginRegistry> registry_;
  bool all_loaded_ = false;  // registry_ holds every plugin of plugin_dirs()
};

// The built-in plugin folder next to the executable, then the config's plugin_dirs.
std::vector<std::filesystem::path> plugin_dirs_for(const config::DaemonConfig& cfg);

void register_run(CLI::App& app, CliContext& ctx);
void register_pipelines(CLI::App& app, CliContext& ctx);
void register_plugins(CLI::App& app, CliContext& ctx);
// `qkvd --check-config FILE`: a global option, run before any subcommand.
void register_check_config(CLI::App& app, CliContext& ctx);
int check_config(CliContext& ctx, const std::filesystem::path& file, std::ostream& out);

}  // namespace qkv::cli
