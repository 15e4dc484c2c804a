// qkvd: the daemon and its in-process tools. Each subcommand registers itself from its own
// file (daemon/cli/, or its component's folder); adding one is one line below.
#include <cstdlib>
#include <iostream>
#include <string>

#include "cli/attention_command.hpp"
#include "cli/cli_context.hpp"
#include "cli/serve_command.hpp"
#include "model/models_command.hpp"
#include "model/stage.hpp"

#ifndef QKV_VERSION
#define QKV_VERSION "0.0.0"
#endif

namespace {

// Plugins keep derived data (tokenizer-bpe: compiled vocabulary images) in $QKV_CACHE_DIR, a
// folder this process owns and no client names. Set here, before any thread starts, when the
// user has not: systemd's CacheDirectory= ($CACHE_DIRECTORY), else $XDG_CACHE_HOME/qkv, else
// ~/.cache/qkv. QKV_CACHE_DIR= (empty) turns images off.
void default_cache_dir() {
  if (std::getenv("QKV_CACHE_DIR")) return;
  std::string dir;
  if (const char* d = std::getenv("CACHE_DIRECTORY"); d && *d) {
    dir = d;
    if (auto colon = dir.find(':'); colon != std::string::npos) dir.resize(colon);
  } else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x == '/') {
    dir = std::string(x) + "/qkv";
  } else if (const char* h = std::getenv("HOME"); h && *h == '/') {
    dir = std::string(h) + "/.cache/qkv";
  }
  if (!dir.empty()) setenv("QKV_CACHE_DIR", dir.c_str(), 0);
}

}  // namespace

int main(int argc, char** argv) {
  default_cache_dir();
  CLI::App app{"qkv: batch-processing daemon for Transformer workloads", "qkvd"};
  app.set_version_flag("--version", std::string("qkvd ") + QKV_VERSION + " (plugin ABI " +
                                        std::to_string(QKV_ABI_MAJOR) + "." +
                                        std::to_string(QKV_ABI_MINOR) + ")");
  app.fallthrough();
  qkv::cli::CliContext ctx;
  ctx.model_stage_factory = qkv::model::make_model_stage;  // the model runtime, for every job
  app.add_option(
      "--config,-c", ctx.config_file,
      "Daemon config (default: $QKVD_CONFIG, /etc/qkv/qkvd.yaml, else built-in defaults)");

  qkv::cli::register_check_config(app, ctx);
  qkv::cli::register_run(app, ctx);
  qkv::cli::register_pipelines(app, ctx);
  qkv::cli::register_plugins(app, ctx);
  qkv::cli::register_serve(app, ctx);
  qkv::cli::register_attention_command(app, ctx);
  qkv::model::register_models_command(app, ctx.exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!ctx.check_config_file.empty())
    return qkv::cli::check_config(ctx, ctx.check_config_file, std::cout);
  if (app.get_subcommands().empty()) {
    if (ctx.default_action) return ctx.default_action();
    std::cout << app.help();
    return 0;
  }
  return ctx.exit_code;
}
