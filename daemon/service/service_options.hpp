// What qkvd's serve mode needs, independent of how it was configured (serve_command maps
// the daemon config onto it) and of how jobs are computed (make_runner).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/path_policy.hpp"
#include "jobs/executor.hpp"
#include "jobs/job_runner.hpp"
#include "jobs/redis/redis_options.hpp"

namespace qkv::service {

// A runner plus what loading it said (plugins refused, pipelines skipped...).
struct RunnerBundle {
  std::shared_ptr<jobs::JobRunner> runner;
  std::vector<std::string> warnings;
  std::size_t pipelines = 0;
  std::size_t plugins = 0;
  // Invalid pipelines and refused plugins: `health` is `degraded` while there are any.
  std::vector<std::string> problems;
  // The answers of the `plugins` and `pipelines` ops until the next reload.
  nlohmann::json plugins_view = nlohmann::json::object();
  nlohmann::json pipelines_view = nlohmann::json::array();
};

struct ServiceOptions {
  std::filesystem::path socket;
  unsigned socket_mode = 0660;
  std::optional<std::pair<std::string, uint16_t>> tcp;
  std::filesystem::path tokens_file;                        // required with tcp
  std::optional<std::pair<std::string, uint16_t>> metrics;  // GET /metrics listener
  std::vector<uint32_t> admin_uids{0};
  std::vector<std::string> admin_groups, admin_tokens;
  std::size_t max_connections_per_peer = 64;
  std::filesystem::path spool;
  std::string default_pipeline;
  unsigned threads = 0;
  io::PathRoots roots;
  io::ProtectedPaths protected_paths;  // never an output (service/daemon_paths.hpp)
  uint64_t max_request_bytes = 1 << 20;
  std::size_t max_queue = 64;
  uint64_t max_job_input_bytes = 0;
  std::chrono::seconds max_run{0};
  std::chrono::seconds idle_timeout{60};
  std::size_t max_inline_texts = 1024;
  std::chrono::seconds crash_quarantine{3600};  // an inline request that crashed qkvd
  std::chrono::seconds request_timeout{30};     // inline runs
  std::size_t max_reply_buffer_bytes = 8u << 20;
  std::size_t max_queued_per_submitter = 0;  // 0: max_queue / 4
  double done_days = 7, failed_days = 30;
  std::chrono::seconds drain{30};
  std::chrono::milliseconds spool_poll{1000};
  // A Redis Streams consumer group as a second job source (docs/scale-out.md).
  std::optional<jobs::redis::Options> redis;
  std::chrono::milliseconds redis_poll{100};
  // Builds a runner from the current pipelines and plugins; called at start and on reload,
  // with the executor whose arena jobs run in. Throws (with a message) when the result would
  // be unusable; on reload the old runner then stays.
  std::function<RunnerBundle(jobs::Executor&)> make_runner;
};

}  // namespace qkv::service
