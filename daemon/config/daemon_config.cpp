#include <cstdlib>
#include "daemon_config.hpp"

#include <system_error>

#include "section.hpp"

namespace qkv::config {
namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxU32 = 0xffffffffLL;

void read_limits(Section& s, DaemonConfig::Limits& l) {
  if (auto v = s.integer("max_request_bytes", 1024, int64_t{1} << 32)) l.max_request_bytes = *v;
  if (auto v = s.integer("max_queue", 1, 1000000)) l.max_queue = *v;
  if (auto v = s.integer("max_job_input_bytes", 0, int64_t{1} << 62)) l.max_job_input_bytes = *v;
  if (auto v = s.integer("max_run_seconds", 0, kMaxU32)) l.max_run_seconds = *v;
  if (auto v = s.integer("idle_timeout_seconds", 0, kMaxU32)) l.idle_timeout_seconds = *v;
  if (auto v = s.integer("max_inline_texts", 1, 1000000)) l.max_inline_texts = *v;
  if (auto v = s.integer("max_inline_new_tokens", 1, 1 << 20)) l.max_inline_new_tokens = *v;
  if (auto v = s.integer("max_connections_per_peer", 1, 1000000)) l.max_connections_per_peer = *v;
  if (auto v = s.integer("crash_quarantine_seconds", 0, kMaxU32)) l.crash_quarantine_seconds = *v;
  if (auto v = s.integer("request_timeout_seconds", 1, 86400)) l.request_timeout_seconds = *v;
  if (auto v = s.integer("max_reply_buffer_bytes", 65536, int64_t{1} << 40))
    l.max_reply_buffer_bytes = *v;
  if (auto v = s.integer("cache_bytes", 0, int64_t{1} << 50)) l.cache_bytes = *v;
  if (auto v = s.integer("max_document_bytes", 1024, int64_t{1} << 40)) l.max_document_bytes = *v;
  if (auto v = s.integer("max_vocab_bytes", 1024, int64_t{1} << 50)) l.max_vocab_bytes = *v;
  if (auto v = s.integer("max_queued_per_submitter", 0, 1000000)) l.max_queued_per_submitter = *v;
}

void read_access(Section& s, DaemonConfig::Access& a) {
  if (auto v = s.string_list("admin_uids")) {
    a.admin_uids.clear();
    for (const auto& text : *v) {
      char* end = nullptr;
      unsigned long uid = std::strtoul(text.c_str(), &end, 10);
      if (text.empty() || *end || uid > kMaxU32)
        s.error("admin_uids", "expected numeric uids, got '" + text + "'");
      else
        a.admin_uids.push_back(static_cast<uint32_t>(uid));
    }
  }
  if (auto v = s.string_list("admin_groups")) a.admin_groups = *v;
  if (auto v = s.string_list("admin_tokens")) a.admin_tokens = *v;
}

void read_socket_mode(Section& s, DaemonConfig& c) {
  auto text = s.string("socket_mode");
  if (!text) return;
  uint32_t mode = 0;
  bool ok = !text->empty() && text->size() <= 4;
  for (char ch : *text) {
    if (ch < '0' || ch > '7') ok = false;
    mode = mode * 8 + static_cast<uint32_t>(ch - '0');
  }
  if (!ok || mode > 0777) {
    s.error("socket_mode", "expected an octal file mode such as \"0660\", got '" + *text + "'");
    return;
  }
  c.socket_mode = mode;
}

// sources.redis: only the shape of the url here; jobs/redis/redis_client.cpp parses it.
void read_redis(Section& s, DaemonConfig::Redis& r) {
  if (auto v = s.string("url", true)) {
    r.url = *v;
    if (v->rfind("rediss://", 0) == 0)
      s.error("url",
              "rediss:// (TLS) is not supported: hiredis 0.14 has no TLS; use a private "
              "network, stunnel or WireGuard (docs/scale-out.md)");
    else if (v->rfind("redis://", 0) != 0 && v->rfind("unix:///", 0) != 0)
      s.error("url", "expected redis://host:port or unix:///path, got '" + *v + "'");
  }
  if (auto v = s.string("stream")) r.stream = *v;
  if (auto v = s.string("group")) r.group = *v;
  if (auto v = s.string("consumer")) r.consumer = *v;
  if (auto v = s.string("username")) r.username = *v;
  if (auto v = s.path("password_file", PathKind::file)) r.password_file = *v;
  if (auto v = s.integer("heartbeat_seconds", 1, 86400)) r.heartbeat_seconds = *v;
  if (auto v = s.integer("claim_idle_seconds", 2, 7 * 86400)) r.claim_idle_seconds = *v;
  if (auto v = s.integer("max_deliveries", 1, 1000)) r.max_deliveries = *v;
  if (auto v = s.integer("prefetch", 0, 1000)) r.prefetch = *v;
  for (auto* name : {&r.stream, &r.group})
    if (name->empty()) s.error(name == &r.stream ? "stream" : "group", "must not be empty");
  // A worker must beat at least twice within the idle time, or a slow beat loses its entry.
  if (r.claim_idle_seconds < 2 * r.heartbeat_seconds)
    s.error("claim_idle_seconds", "must be at least 2 x heartbeat_seconds (" +
                                      std::to_string(2 * r.heartbeat_seconds) + "), got " +
                                      std::to_string(r.claim_idle_seconds));
}

}  // namespace

DaemonConfig default_daemon_config(const fs::path& pipelines_dir) {
  DaemonConfig c;
  c.pipelines_dir = pipelines_dir;
  return c;
}

DaemonConfig load_daemon_config(const fs::path& file, const Overrides& overrides) {
  Document doc = Document::load(file, overrides);
  DaemonConfig c;
  std::error_code ec;
  c.file = fs::absolute(file, ec);
  c.pipelines_dir = doc.dir / "pipelines";
  if (!doc.parsed) doc.throw_if_errors();
  {
    Section s(doc, doc.root, "");
    if (auto v = s.path("socket", PathKind::any)) c.socket = *v;
    read_socket_mode(s, c);
    if (auto v = s.path("spool", PathKind::any)) c.spool = *v;
    if (auto v = s.path("pipelines_dir", PathKind::directory)) c.pipelines_dir = *v;
    // Optional folders: one that does not exist (yet) is skipped, as the package's
    // /usr/local/lib/qkv/plugins until an admin adds a plugin; one that is a file is an error.
    if (auto v = s.path_list("plugin_dirs", PathKind::optional_directory)) c.plugin_dirs = *v;
    if (auto v = s.string("default_pipeline")) c.default_pipeline = *v;
    if (auto v = s.integer("threads", 0, 4096)) c.threads = static_cast<unsigned>(*v);
    if (auto v = s.choice("log_format", {"auto", "text", "syslog", "json"})) c.log_format = *v;
    if (auto v = s.integer("drain_seconds", 0, 86400)) c.drain_seconds = static_cast<uint32_t>(*v);
    if (auto m = s.mapping("roots")) {
      Section r(doc, *m, "roots");
      // A root that does not exist (yet) is skipped by the path policy, not a config error:
      // the shipped build/out appears with the first build.
      if (auto v = r.path_list("input", PathKind::any)) c.roots.input = *v;
      if (auto v = r.path_list("output", PathKind::any)) c.roots.output = *v;
      if (auto v = r.path_list("models", PathKind::any)) c.roots.models = *v;
    }
    YAML::Node tcp = s.raw("tcp");
    if (tcp.IsDefined() && !tcp.IsNull()) {
      Section t(doc, tcp, "tcp");
      if (t.valid()) {
        DaemonConfig::Tcp out;
        if (auto v = t.string("address")) out.address = *v;
        if (auto v = t.integer("port", 1, 65535, true)) out.port = static_cast<uint16_t>(*v);
        // Required: without tokens anyone who can reach the port would act as the daemon.
        if (auto v = t.path("tokens_file", PathKind::file, true)) out.tokens_file = *v;
        c.tcp = out;
      }
    }
    YAML::Node metrics = s.raw("metrics");
    if (metrics.IsDefined() && !metrics.IsNull()) {
      Section m(doc, metrics, "metrics");
      if (m.valid()) {
        DaemonConfig::Metrics out;
        if (auto v = m.string("address")) out.address = *v;
        if (auto v = m.integer("port", 1, 65535, true)) out.port = static_cast<uint16_t>(*v);
        c.metrics = out;
      }
    }
    if (auto m = s.mapping("access")) {
      Section a(doc, *m, "access");
      read_access(a, c.access);
    }
    if (auto m = s.mapping("limits")) {
      Section l(doc, *m, "limits");
      read_limits(l, c.limits);
    }
    if (auto m = s.mapping("sources")) {
      Section src(doc, *m, "sources");
      if (auto r = src.mapping("redis")) {
        Section rs(doc, *r, "sources.redis");
        DaemonConfig::Redis out;
        read_redis(rs, out);
        c.redis = out;
      }
    }
    if (auto m = s.mapping("retention")) {
      Section r(doc, *m, "retention");
      if (auto v = r.integer("done_days", 0, 36500)) c.retention.done_days = *v;
      if (auto v = r.integer("failed_days", 0, 36500)) c.retention.failed_days = *v;
    }
  }
  doc.throw_if_errors();
  return c;
}

}  // namespace qkv::config
