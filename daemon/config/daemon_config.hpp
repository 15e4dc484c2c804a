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
  struct Roots {
    std::vector<std::filesystem::path> input{"/"}, output{"/"};
  } roots;
  // --- Authentication and permissions (docs/service.md, "Security model") ---
  struct Tcp {
    std::string address = "127.0.0.1";
    uint16_t port = 0;
    std::filesystem::path tokens_file;  // required: NAME:TOKEN lines, mode 0600
  };
  std::optional<Tcp> tcp;  // no TCP listener unless configured
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
    uint32_t max_connections_per_peer = 64;  // per uid (Unix socket), per address (TCP)
  } limits;
  struct Retention {
    uint32_t done_days = 7;
    uint32_t failed_days = 30;
  } retention;
  uint32_t drain_seconds = 30;
};

// Loads and validates; throws ConfigError listing every problem. Relative paths resolve
// against the file's folder (values given with --set: against the working directory).
DaemonConfig load_daemon_config(const std::filesystem::path& file, const Overrides& overrides = {});

// The configuration used when no file is given: defaults, pipelines from `pipelines_dir`.
DaemonConfig default_daemon_config(const std::filesystem::path& pipelines_dir);

}  // namespace qkv::config
