// The daemon's configuration (configs/qkvd.yaml), validated into typed values.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "overrides.hpp"

namespace qkv::config {

struct DaemonConfig {
  std::filesystem::path file;  // the config file (absolute)
  std::filesystem::path socket = "/run/qkv/qkvd.sock";
  uint32_t socket_mode = 0660;
  std::filesystem::path spool = "/var/lib/qkv/spool";
  std::filesystem::path pipelines_dir;             // default: <config dir>/pipelines
  std::vector<std::filesystem::path> plugin_dirs;  // after the built-in folder
  std::string default_pipeline = "tokenize-gpt2";
  unsigned threads = 0;  // 0 = all cores
  // stderr lines: auto (syslog priorities when $JOURNAL_STREAM names stderr, else text),
  // text, syslog or json (host/logger.hpp).
  std::string log_format = "auto";
  // Where client-named paths may resolve (io/path_policy.hpp); absent or empty: none at all.
  struct Roots {
    std::vector<std::filesystem::path> input, output;
    std::vector<std::filesystem::path> models;  // read-only assets given by `set`
  } roots;
  // --- Authentication and permissions (docs/service.md, "Security model") ---
  struct Tcp {
    std::string address = "127.0.0.1";
    uint16_t port = 0;
    std::filesystem::path tokens_file;  // required: NAME:TOKEN lines, mode 0600
  };
  std::optional<Tcp> tcp;  // no TCP listener unless configured
  // Prometheus text at GET /metrics on its own read-only listener (docs/service.md), never on
  // tcp.port; aggregate numbers only, so no authentication.
  struct Metrics {
    std::string address = "127.0.0.1";
    uint16_t port = 0;
  };
  std::optional<Metrics> metrics;  // off unless configured
  struct Access {
    std::vector<uint32_t> admin_uids{0};    // see, wait on and cancel every job; may reload
    std::vector<std::string> admin_groups;  // group names or numeric gids: the same rights
    std::vector<std::string> admin_tokens;  // TCP token NAMEs with the same rights
  } access;
  struct Limits {
    uint64_t max_request_bytes = 1048576;
    uint32_t max_queue = 64;
    uint64_t max_job_input_bytes = 0;  // 0 = unlimited
    uint32_t max_run_seconds = 0;      // 0 = unlimited
    uint32_t idle_timeout_seconds = 60;
    uint32_t max_inline_texts = 1024;
    uint32_t max_inline_new_tokens = 256;          // generate.max_new_tokens of inline runs at most
    uint32_t max_connections_per_peer = 64;        // per uid (Unix socket), per address (TCP)
    uint32_t request_timeout_seconds = 30;         // inline runs: a reply (maybe `timeout`) by then
    uint64_t max_reply_buffer_bytes = 8ull << 20;  // unsent replies before a client is closed
    uint64_t cache_bytes = 2ull << 30;             // shared tokenizer instances + model stages
    uint64_t max_document_bytes = 64ull << 20;     // one input line (after decompression)
    uint64_t max_vocab_bytes = 256ull << 20;       // one file a plugin loads (config_path)
    uint32_t max_queued_per_submitter = 0;         // 0 = max_queue / 4 (at least 1)
    uint32_t crash_quarantine_seconds = 3600;      // an inline request that crashed qkvd is refused
  } limits;
  struct Retention {
    uint32_t done_days = 7;
    uint32_t failed_days = 30;
  } retention;
  uint32_t drain_seconds = 30;
  // --- Scale-out (docs/scale-out.md): `sources.redis` ---
  struct Redis {
    std::string url;  // redis://host:port or unix:///path (rediss:// refused: no TLS)
    std::string stream = "qkv:jobs";
    std::string group = "qkv";
    std::string consumer;  // empty: hostname-pid
    uint32_t claim_idle_seconds = 60;
    uint32_t heartbeat_seconds = 10;
    uint32_t max_deliveries = 5;
    uint32_t prefetch = 0;                // entries taken beyond the free job slots
    std::filesystem::path password_file;  // first line is the password
    std::string username;
  };
  std::optional<Redis> redis;
};

// Loads and validates; throws ConfigError listing every problem. Relative paths resolve
// against the file's folder (values given with --set: against the working directory).
DaemonConfig load_daemon_config(const std::filesystem::path& file, const Overrides& overrides = {});

// The configuration used when no file is given: defaults, pipelines from `pipelines_dir`.
DaemonConfig default_daemon_config(const std::filesystem::path& pipelines_dir);

}  // namespace qkv::config
