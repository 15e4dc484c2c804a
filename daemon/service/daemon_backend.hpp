// The daemon's answers to protocol requests (docs/protocol.md), on top of the scheduler,
// the spool source and the current runner. Slow work (fsync, reload, large inline runs) goes
// to bounded thread pools; a small inline run is done in place on the socket thread, watched
// by server::IoThreads, which hands the sockets to a fresh thread when it outlasts its
// patience: a hanging plugin call or a slow vocabulary load cannot stall `health`.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <optional>

#include "crash/quarantine.hpp"
#include "jobs/problems.hpp"
#include "jobs/redis/redis_source.hpp"
#include "jobs/scheduler.hpp"
#include "jobs/spool_source.hpp"
#include "server/asio.hpp"
#include "server/backend.hpp"
#include "server/io_threads.hpp"
#include "service/access_policy.hpp"
#include "service/runner_holder.hpp"
#include "service/service_metrics.hpp"

namespace qkv::service {

namespace asio = boost::asio;
using json = nlohmann::json;

struct BackendContext {
  asio::io_context& io;
  server::IoThreads& io_threads;  // small inline runs, in place on the socket thread
  asio::thread_pool& blocking;    // submit, cancel, reload, spool polling
  asio::thread_pool& compute;     // other inline runs (one hand-off each) and the warm-up
  jobs::Scheduler& scheduler;
  jobs::SpoolSource& spool;
  RunnerHolder& runner;
  jobs::Executor& executor;
  std::function<std::size_t()> connections;
  std::size_t max_inline_texts;
  std::chrono::seconds request_timeout;  // an inline run's reply, `timeout` at the latest
  std::string default_pipeline;
  const AccessPolicy& access;
  const crash::Quarantine& quarantine;  // inline requests that crashed qkvd
  const jobs::Problems& problems;       // health: degraded while there are any
  ServiceMetrics& metrics;
  std::size_t max_queue = 0;
  jobs::redis::RedisSource* redis = nullptr;  // sources.redis, when configured
};

class DaemonBackend final : public server::Backend {
 public:
  explicit DaemonBackend(BackendContext ctx);

  server::ProtocolLimits protocol_limits() const override { return limits_; }
  void handle(server::Request request, const server::Identity& who,
              std::shared_ptr<server::Reply> reply) override;

  void set_draining() noexcept { draining_ = true; }
  bool draining() const noexcept { return draining_; }
  // Performs a reload (the same as SIGHUP) and calls back with the reply fields or an error.
  using ReloadFn = std::function<void(std::function<void(bool ok, std::string json_or_error)>)>;
  void set_reload(ReloadFn fn) { reload_fn_ = std::move(fn); }
  // What the last load or reload found: the answers of the `plugins` and `pipelines` ops.
  void set_inventory(json plugins, json pipelines);
  // ok, degraded (problems) or draining.
  std::string health_status() const;
  // The Prometheus text of GET /metrics.
  std::string metrics_text() const;

 private:
  using Who = server::Identity;
  void submit(server::Request& r, const Who& who, std::shared_ptr<server::Reply> reply);
  void status(server::Request& r, const Who& who, std::shared_ptr<server::Reply> reply);
  // Submit, status and wait of jobs on the Redis queue (docs/scale-out.md); Redis is asked on
  // the blocking pool, never on the socket thread.
  void submit_redis(json body, const jobs::Submitter& who, const json& tag,
                    std::shared_ptr<server::Reply> reply);
  void status_redis(const std::string& id, const Who& who, const json& tag,
                    std::shared_ptr<server::Reply> reply, bool wait, unsigned interval_ms);
  void wait(server::Request& r, const Who& who, std::shared_ptr<server::Reply> reply);
  void cancel(server::Request& r, const Who& who, std::shared_ptr<server::Reply> reply);
  void cancel_parent(const std::string& id, const Who& who, const nlohmann::json& tag,
                     server::Reply& reply);
  void list(server::Request& r, const Who& who, std::shared_ptr<server::Reply> reply);
  void stats(server::Request& r, std::shared_ptr<server::Reply> reply);
  void health(server::Request& r, std::shared_ptr<server::Reply> reply);
  void run(server::Request& r, std::shared_ptr<server::Reply> reply);
  void inventory(server::Request& r, std::shared_ptr<server::Reply> reply);
  // Runs one inline request (in place or on a pool thread); returns its reply line. `arrived`: for
  // the latency histogram.
  std::string run_inline(const pipeline::JobSpec& spec, const json& tag, const std::string& owner,
                         pipeline::CancelFlag& cancel,
                         std::chrono::steady_clock::time_point arrived);
  void reload(server::Request& r, const Who& who, std::shared_ptr<server::Reply> reply);
  // The crash owner of an inline run ("inline:<key>"), or an error line when that request
  // crashed qkvd recently (code suspect, limits.crash_quarantine_seconds).
  std::string quarantined(const pipeline::JobSpec& spec, const json& tag, std::string& owner) const;
  // The submitter of job `id` wherever it is (queue, reports, incoming/); nullopt if none.
  std::optional<Who> owner_of(const std::string& id) const;
  // True if `who` may act on job `id` (or no such job: the op then answers not_found);
  // otherwise replies permission_denied (logged) and returns false.
  bool permitted(const Who& who, const std::string& id, std::string_view op, const json& tag,
                 server::Reply& reply) const;

  BackendContext ctx_;
  server::ProtocolLimits limits_;
  ReloadFn reload_fn_;
  std::atomic<bool> draining_{false};
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::array<std::atomic<uint64_t>, protocol::kOpCount> requests_{};  // per op
  std::atomic<uint64_t> inline_runs_{0}, inline_texts_{0}, inline_errors_{0};
  mutable std::mutex inventory_mutex_;
  json plugins_view_ = json::object(), pipelines_view_ = json::array();
};

}  // namespace qkv::service
