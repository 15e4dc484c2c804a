// The serve mode: maps the daemon config onto the service, and builds the daemon's runner
// (service::PipelineJobRunner over the plugins + pipelines) at start and on every reload.
#include "cli/serve_command.hpp"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <type_traits>

#include "cli/daemon_inventory.hpp"
#include "config/diagnostics.hpp"
#include "host/library.hpp"
#include "host/logger.hpp"
#include "service/daemon_paths.hpp"
#include "service/daemon_service.hpp"
#include "service/pipeline_job_runner.hpp"

namespace qkv::cli {
namespace {

namespace fs = std::filesystem;

// sources.redis (docs/scale-out.md); the password is the first line of password_file.
jobs::redis::Options redis_options(const config::DaemonConfig::Redis& r, double results_days) {
  jobs::redis::Options o;
  o.url = r.url;
  o.stream = r.stream;
  o.group = r.group;
  o.consumer = r.consumer;
  o.heartbeat = std::chrono::seconds(r.heartbeat_seconds);
  o.claim_idle = std::chrono::seconds(r.claim_idle_seconds);
  o.max_deliveries = r.max_deliveries;
  o.prefetch = r.prefetch;
  o.username = r.username;
  o.results_days = results_days;
  if (!r.password_file.empty()) {
    std::ifstream f(r.password_file);
    if (!f || !std::getline(f, o.password))
      throw std::runtime_error("sources.redis.password_file: cannot read " +
                               r.password_file.string());
  }
  return o;
}

service::ServiceOptions options_from(const config::DaemonConfig& c) {
  service::ServiceOptions o;
  o.socket = c.socket;
  o.socket_mode = c.socket_mode;
  if (c.tcp && c.tcp->port) {
    o.tcp = std::make_pair(c.tcp->address, c.tcp->port);
    o.tokens_file = c.tcp->tokens_file;
  }
  if (c.metrics) o.metrics = std::make_pair(c.metrics->address, c.metrics->port);
  o.admin_uids = c.access.admin_uids;
  o.admin_groups = c.access.admin_groups;
  o.admin_tokens = c.access.admin_tokens;
  o.max_connections_per_peer = c.limits.max_connections_per_peer;
  o.spool = c.spool;
  o.default_pipeline = c.default_pipeline;
  o.threads = c.threads;
  o.roots = service::path_roots(c);
  o.protected_paths = service::protected_paths(c);
  o.max_request_bytes = c.limits.max_request_bytes;
  o.max_queue = c.limits.max_queue;
  o.max_job_input_bytes = c.limits.max_job_input_bytes;
  o.max_run = std::chrono::seconds(c.limits.max_run_seconds);
  o.idle_timeout = std::chrono::seconds(c.limits.idle_timeout_seconds);
  o.max_inline_texts = c.limits.max_inline_texts;
  o.crash_quarantine = std::chrono::seconds(c.limits.crash_quarantine_seconds);
  o.request_timeout = std::chrono::seconds(c.limits.request_timeout_seconds);
  o.max_reply_buffer_bytes = c.limits.max_reply_buffer_bytes;
  o.max_queued_per_submitter = c.limits.max_queued_per_submitter;
  o.done_days = c.retention.done_days;
  o.failed_days = c.retention.failed_days;
  o.drain = std::chrono::seconds(c.drain_seconds);
  if (c.redis) o.redis = redis_options(*c.redis, c.retention.done_days);
  return o;
}

// The daemon config keys serve reads once (options_from above): a reload that changes one
// warns that it takes effect at the next start. Values as text, for comparing and naming.
std::map<std::string, std::string> restart_only(const config::DaemonConfig& c) {
  auto list = [](const auto& v) {
    std::string s;
    for (const auto& x : v) {
      if (!s.empty()) s += ',';
      if constexpr (std::is_same_v<std::decay_t<decltype(x)>, fs::path>)
        s += x.string();
      else if constexpr (std::is_arithmetic_v<std::decay_t<decltype(x)>>)
        s += std::to_string(x);
      else
        s += x;
    }
    return s;
  };
  const auto& l = c.limits;
  return {
      {"socket", c.socket.string()},
      {"socket_mode", std::to_string(c.socket_mode)},
      {"spool", c.spool.string()},
      {"default_pipeline", c.default_pipeline},
      {"threads", std::to_string(c.threads)},
      {"tcp", c.tcp ? c.tcp->address + ":" + std::to_string(c.tcp->port) + " " +
                          c.tcp->tokens_file.string()
                    : ""},
      {"metrics", c.metrics ? c.metrics->address + ":" + std::to_string(c.metrics->port) : ""},
      {"access", list(c.access.admin_uids) + ";" + list(c.access.admin_groups) + ";" +
                     list(c.access.admin_tokens)},
      {"roots", list(c.roots.input) + ";" + list(c.roots.output) + ";" + list(c.roots.models)},
      {"limits.max_request_bytes", std::to_string(l.max_request_bytes)},
      {"limits.max_queue", std::to_string(l.max_queue)},
      {"limits.max_job_input_bytes", std::to_string(l.max_job_input_bytes)},
      {"limits.max_run_seconds", std::to_string(l.max_run_seconds)},
      {"limits.idle_timeout_seconds", std::to_string(l.idle_timeout_seconds)},
      {"limits.max_inline_texts", std::to_string(l.max_inline_texts)},
      {"limits.max_connections_per_peer", std::to_string(l.max_connections_per_peer)},
      {"limits.request_timeout_seconds", std::to_string(l.request_timeout_seconds)},
      {"limits.max_reply_buffer_bytes", std::to_string(l.max_reply_buffer_bytes)},
      {"limits.max_queued_per_submitter", std::to_string(l.max_queued_per_submitter)},
      {"limits.crash_quarantine_seconds", std::to_string(l.crash_quarantine_seconds)},
      {"retention",
       std::to_string(c.retention.done_days) + "," + std::to_string(c.retention.failed_days)},
      {"drain_seconds", std::to_string(c.drain_seconds)},
  };
}

// What the last successful load had: a reload that loses one of these plugins is refused,
// so pipelines that worked keep working on the old libraries.
struct LoadState {
  bool first = true;
  std::set<std::string> plugins;               // "kind/name"
  std::map<std::string, std::string> restart;  // restart_only() of the config serve started with
};

service::RunnerBundle build_runner(CliContext& ctx, LoadState& state, jobs::Executor& executor) {
  // The first load uses the config serve started with; reloads read the file again.
  config::DaemonConfig cfg = ctx.daemon_config();
  if (!state.first) {
    config::Overrides sets;
    for (const auto& s : ctx.config_sets) {
      auto eq = s.find('=');
      sets.emplace_back(s.substr(0, eq), eq == std::string::npos ? "" : s.substr(eq + 1));
    }
    fs::path file = ctx.config_path();
    if (!file.empty()) cfg = config::load_daemon_config(file, sets);
  }
  const std::vector<fs::path> dirs = plugin_dirs_for(cfg);
  auto registry = std::make_shared<host::PluginRegistry>();
  // Private copies, always: a plugin file replaced on disk loads as a new image at reload,
  // and one overwritten in place (cp) cannot corrupt the image running jobs use.
  for (auto& d : dirs) registry->load_directory(d, host::LoadMode::private_copy);

  service::RunnerBundle b;
  std::set<std::string> now;
  for (auto* p : registry->all()) now.insert(std::to_string(p->kind) + "/" + p->name);
  for (auto& key : state.plugins)
    if (!now.count(key)) {
      std::string why;
      for (auto& e : registry->errors()) why += "; " + e;
      throw std::runtime_error("plugin " + key.substr(key.find('/') + 1) +
                               " loaded before but not now" + why);
    }
  b.warnings = registry->errors();
  b.plugins = now.size();
  b.pipelines = config::list_pipelines(cfg.pipelines_dir).size();
  auto runner = std::make_shared<service::PipelineJobRunner>(cfg, registry, executor,
                                                             ctx.model_stage_factory);
  b.runner = runner;
  DaemonInventory inv = take_inventory(cfg, *registry, *runner);
  for (const auto& p : inv.pipelines)
    if (!p.value("valid", false))
      b.warnings.push_back("pipeline '" + p.value("name", "") +
                           "' is invalid: " + p.value("error", ""));
  if (state.first) {
    state.restart = restart_only(cfg);
  } else {
    for (const auto& [key, value] : restart_only(cfg))
      if (state.restart[key] != value)
        b.warnings.push_back(key + " changed in " + cfg.file.string() +
                             ": it takes effect when qkvd restarts, not on reload");
  }
  b.problems = std::move(inv.problems);
  b.plugins_view = std::move(inv.plugins);
  b.pipelines_view = std::move(inv.pipelines);
  state.first = false;
  state.plugins = std::move(now);
  return b;
}

host::LogFormat log_format(const config::DaemonConfig& c) {
  if (c.log_format == "json") return host::LogFormat::json;
  if (c.log_format == "syslog") return host::LogFormat::syslog;
  if (c.log_format == "text") return host::LogFormat::text;
  const char* journal = std::getenv("JOURNAL_STREAM");  // set by systemd for the journal
  return journal && *journal ? host::LogFormat::syslog : host::LogFormat::text;
}

int serve(CliContext& ctx) {
  try {
    const auto& cfg = ctx.daemon_config();
    host::frame_stderr(log_format(cfg));
    // Private plugin copies beside the spool; those of dead daemons (kill -9 mid-reload) go.
    if (std::size_t n = host::set_private_copy_place(cfg.spool / "plugin-copies", ""))
      std::cerr << "qkvd: removed " << n << " stale plugin-copies folder(s) of dead daemons\n";
    service::ServiceOptions o = options_from(cfg);
    auto state = std::make_shared<LoadState>();
    o.make_runner = [&ctx, state](jobs::Executor& ex) { return build_runner(ctx, *state, ex); };
    service::DaemonService daemon(std::move(o));
    return daemon.run();
  } catch (const config::ConfigError& e) {
    std::cerr << "qkvd: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "qkvd: error: cannot serve: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

void register_serve(CLI::App& app, CliContext& ctx) {
  app.add_option("--set", ctx.config_sets,
                 "Override a daemon config value when serving (key.path=value, repeatable)");
  ctx.default_action = [&ctx] { return serve(ctx); };
}

}  // namespace qkv::cli
