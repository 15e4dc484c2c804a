// `qkvd --check-config FILE`: validates a daemon config and every pipeline it names (or one
// pipeline file), prints every problem found, exits 1 on any.
#include <iostream>

#include "cli/cli_context.hpp"
#include "config/diagnostics.hpp"
#include "config/pipeline_config.hpp"
#include "host/plugin_registry.hpp"
#include "pipeline/plugin_tokenizer.hpp"

namespace qkv::cli {
namespace fs = std::filesystem;
namespace {

// Validates one pipeline; with plugins, also creates its tokenizer (the plugin checks its
// own keys and files). Returns the number of problems printed.
int check_pipeline(const fs::path& file, const host::PluginRegistry* plugins, std::ostream& out) {
  try {
    auto p = config::load_pipeline_config(file);
    if (!plugins) return 0;
    try {
      (void)pipeline::make_plugin_tokenizer(p, *plugins);
    } catch (const std::exception& e) {
      out << e.what() << "\n";
      return 1;
    }
    return 0;
  } catch (const config::ConfigError& e) {
    for (const auto& d : e.diagnostics()) out << d.str() << "\n";
    return static_cast<int>(e.diagnostics().size());
  }
}

}  // namespace

int check_config(CliContext& ctx, const fs::path& file, std::ostream& out) {
  int problems = 0;
  if (config::looks_like_pipeline(file)) {
    problems += check_pipeline(file, &ctx.plugins(), out);
  } else {
    ctx.config_file = file.string();
    try {
      const auto& daemon = ctx.daemon_config();
      const auto pipelines = config::list_pipelines(daemon.pipelines_dir);
      const auto def = config::resolve_pipeline(daemon.default_pipeline, daemon.pipelines_dir);
      std::error_code ec;
      if (!fs::is_regular_file(def, ec)) {
        out << file.string() << ": default_pipeline: expected a pipeline in "
            << daemon.pipelines_dir.string() << " or a pipeline file, but " << def.string()
            << " does not exist\n";
        ++problems;
      }
      const auto& plugins = ctx.plugins();
      for (const auto& p : pipelines) problems += check_pipeline(p, &plugins, out);
    } catch (const config::ConfigError& e) {
      for (const auto& d : e.diagnostics()) out << d.str() << "\n";
      problems += static_cast<int>(e.diagnostics().size());
    }
  }
  if (problems) {
    out << file.string() << ": " << problems << (problems == 1 ? " problem" : " problems")
        << " found\n";
    return 1;
  }
  out << file.string() << ": ok\n";
  return 0;
}

void register_check_config(CLI::App& app, CliContext& ctx) {
  app.add_option(
      "--check-config", ctx.check_config_file,
      "Validate a daemon config (and every pipeline of its pipelines folder) or one pipeline "
      "file; print every problem; exit 1 on any");
}

}  // namespace qkv::cli
