#include "service/daemon_service.hpp"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <set>
#include <thread>

#include "crash/crash_log.hpp"
#include "crash/quarantine.hpp"
#include "jobs/job_json.hpp"
#include "jobs/redis/redis_source.hpp"
#include "jobs/scheduler.hpp"
#include "jobs/spool_lock.hpp"
#include "jobs/spool_source.hpp"
#include "server/metrics_listener.hpp"
#include "server/server.hpp"
#include "service/daemon_backend.hpp"
#include "service/runner_holder.hpp"
#include "service/sd_notify.hpp"

namespace qkv::service {

namespace asio = boost::asio;
using json = nlohmann::json;

struct DaemonService::Impl {
  explicit Impl(ServiceOptions o)
      : opt(std::move(o)),
        executor(jobs::make_default_executor(opt.threads)),
        runner([this] { return opt.make_runner(*executor); }),
        spool_lock(opt.spool),
        spool(jobs::SpoolOptions{opt.spool, opt.done_days, opt.failed_days, opt.max_request_bytes,
                                 spool_fault_for_testing()}),
        crash_log(opt.spool / "crash-records"),
        quarantine(opt.spool / "quarantine", opt.crash_quarantine),
        policy(opt.roots, opt.max_job_input_bytes, opt.protected_paths),
        access(opt.admin_uids, opt.admin_groups, opt.admin_tokens),
        source(
            spool, [this]() -> const io::PathPolicy& { return policy; },
            [this] { return opt.default_pipeline; },
            [this](const pipeline::JobSpec& spec) { runner.current()->validate(spec); }),
        compute(executor->concurrency()),
        signals(io, SIGHUP, SIGTERM, SIGINT),
        poll_timer(io),
        redis_timer(io),
        maintain_timer(io) {
    source.set_framing(
        [this](const pipeline::JobSpec& spec) { return runner.current()->input_framing(spec); });
    if (opt.redis)  // throws (bad url): no start
      redis = std::make_unique<jobs::redis::RedisSource>(
          *opt.redis, [this](const nlohmann::json& file) { return source.checked_spec(file); });
    if (redis)  // what this worker accepted, kept beside its spool (jobs/redis/parent_records.hpp)
      redis->keep_records_in(opt.spool / "redis");
    if (redis)  // sharded jobs: the spool's planner and parent manifest writer
      redis->set_shard_hooks(jobs::redis::ShardHooks{
          [this](const nlohmann::json& request, const jobs::Submitter& who,
                 const pipeline::JobSpec& spec, unsigned shards, const std::string& parent) {
            return source.shard_files(request, who, spec, shards, parent);
          },
          [this](const jobs::ShardOf& s) { return source.finish_parent_of(s); },
          [this](const pipeline::JobSpec& spec) {
            return runner.current()->pipeline_sha256(spec);
          }});
    jobs::SchedulerOptions so;
    so.max_queue = opt.max_queue;
    so.max_queued_per_submitter = opt.max_queued_per_submitter
                                      ? opt.max_queued_per_submitter
                                      : std::max<std::size_t>(1, opt.max_queue / 4);
    so.max_running = executor->concurrency();
    so.max_run = std::chrono::duration_cast<std::chrono::milliseconds>(opt.max_run);
    scheduler =
        std::make_unique<jobs::Scheduler>(so, *executor, [this] { return runner.current(); });
    scheduler->set_on_room([this] { schedule_poll(); });
    if (redis)  // entries beyond what this worker starts soon stay for the other workers
      redis->set_wants_more([this] {
        const auto s = scheduler->stats();
        return s.running + s.queued < executor->concurrency() + opt.redis->prefetch;
      });
    scheduler->set_on_end([this](const jobs::JobRecord& j) {
      metrics.job_ended(j);
      log_end(j);
      if (redis) schedule_poll();  // a job slot is free: take the next entry now
    });
    backend = std::make_unique<DaemonBackend>(
        BackendContext{io, io_threads, blocking, compute, *scheduler, source, runner, *executor,
                       [this] { return server ? server->connections() : std::size_t(0); },
                       opt.max_inline_texts, opt.request_timeout, opt.default_pipeline, access,
                       quarantine, problems, metrics, opt.max_queue, redis.get()});
    backend->set_reload([this](auto done) { reload(std::move(done)); });
    server::ServerOptions so2;
    so2.socket = opt.socket;
    so2.socket_mode = opt.socket_mode;
    so2.tcp = opt.tcp;
    if (opt.tcp) so2.tokens = server::TokenStore::load(opt.tokens_file);  // throws: no start
    so2.max_connections_per_peer = opt.max_connections_per_peer;
    so2.limits.max_request_bytes = opt.max_request_bytes;
    so2.limits.max_reply_buffer_bytes = opt.max_reply_buffer_bytes;
    so2.limits.idle_timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(opt.idle_timeout);
    server = std::make_unique<server::Server>(io, so2, *backend);
    if (opt.metrics)
      metrics_listener = std::make_unique<server::MetricsListener>(
          io, opt.metrics->first, opt.metrics->second, [this] { return backend->metrics_text(); });
  }

  // Health and the inventory ops answer from what this load found until the next one.
  void loaded(RunnerBundle& b) {
    problems.set("pipelines", b.problems);
    std::set<std::string> names;
    for (const auto& p : b.pipelines_view) names.insert(p.value("name", ""));
    metrics.set_known_pipelines(std::move(names));
    backend->set_inventory(std::move(b.plugins_view), std::move(b.pipelines_view));
  }

  // The test-only seam of tests/reliability (a spool that fills up): QKV_TEST_SPOOL_ENOSPC_AFTER.
  static uint64_t spool_fault_for_testing() {
    const char* v = std::getenv("QKV_TEST_SPOOL_ENOSPC_AFTER");
    return v ? std::strtoull(v, nullptr, 10) : 0;
  }

  static void log_end(const jobs::JobRecord& j) {
    auto o = j.outcome();
    if (!o) return;
    std::cerr << "qkvd: " << (o->state == jobs::JobState::failed ? "warning: " : "") << "job "
              << j.id() << " " << jobs::to_string(o->state);
    if (o->state == jobs::JobState::done)
      std::cerr << " (" << o->result.documents << " documents, " << o->result.tokens << " tokens)";
    else if (!o->error_message.empty())
      std::cerr << ": [" << o->error_code << "] " << o->error_message;
    std::cerr << "\n";
  }

  void schedule_poll() {
    if (poll_pending.exchange(true)) return;
    asio::post(blocking, [this] {
      poll_pending = false;
      try {
        source.poll(*scheduler);
      } catch (const std::exception& e) {
        std::cerr << "qkvd: error: reading the spool failed: " << e.what() << "\n";
      }
      poll_redis();
    });
  }

  // Never throws: the Redis source turns its failures into problem() and a backoff.
  void poll_redis() {
    if (!redis || redis_poll_busy.exchange(true)) return;
    try {
      redis->poll(*scheduler);
    } catch (const std::exception& e) {
      std::cerr << "qkvd: error: polling redis failed: " << e.what() << "\n";
    }
    // Health shows the queue's trouble (degraded) until a poll gets through again.
    auto trouble = redis->problem();
    problems.set("redis", trouble ? std::vector<std::string>{"sources.redis: " + *trouble}
                                  : std::vector<std::string>{});
    redis_poll_busy = false;
  }

  void arm_redis_poll() {
    if (!redis) return;
    redis_timer.expires_after(opt.redis_poll);
    redis_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || draining) return;
      asio::post(blocking, [this] { poll_redis(); });
      arm_redis_poll();
    });
  }

  void arm_poll() {
    poll_timer.expires_after(opt.spool_poll);
    poll_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || draining) return;
      schedule_poll();
      arm_poll();
    });
  }

  void arm_maintain() {
    asio::post(blocking, [this] {
      try {
        source.maintain();
      } catch (const std::exception& e) {
        std::cerr << "qkvd: error: spool retention failed: " << e.what() << "\n";
      }
      if (redis) redis->maintain();
    });
    maintain_timer.expires_after(std::chrono::hours(1));
    maintain_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && !draining) arm_maintain();
    });
  }

  void warm_up() {
    // Loads the default pipeline now, so the first inline run does not pay for it.
    asio::post(compute, [this] {
      try {
        pipeline::JobSpec spec;
        spec.id = "warm-up";
        spec.pipeline = opt.default_pipeline;
        spec.texts = {"warm up"};
        spec.threads = 1;
        pipeline::JobProgress p;
        pipeline::CancelFlag c;
        runner.current()->run(spec, p, c);
      } catch (const std::exception& e) {
        std::cerr << "qkvd: warning: default pipeline '" << opt.default_pipeline
                  << "' does not run: " << e.what() << "\n";
      }
    });
  }

  static json bundle_json(const RunnerBundle& b, uint64_t generation) {
    return {{"reloaded", true},     {"generation", generation}, {"pipelines", b.pipelines},
            {"plugins", b.plugins}, {"warnings", b.warnings},   {"problems", b.problems}};
  }

  void reload(std::function<void(bool, std::string)> done) {
    notify_reloading();
    asio::post(blocking, [this, done = std::move(done)] {
      try {
        RunnerBundle b = runner.reload();
        for (auto& w : b.warnings) std::cerr << "qkvd: warning: reload: " << w << "\n";
        loaded(b);
        std::cerr << "qkvd: reloaded: " << b.pipelines << " pipeline(s), " << b.plugins
                  << " plugin(s); running jobs finish on what they started with\n";
        notify_ready("serving");
        warm_up();
        if (done) done(true, bundle_json(b, runner.generation()).dump());
      } catch (const std::exception& e) {
        std::cerr << "qkvd: error: reload failed, keeping the previous pipelines and plugins: "
                  << e.what() << "\n";
        notify_ready("serving (last reload failed)");
        if (done) done(false, e.what());
      }
    });
  }

  void wait_signal() {
    signals.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        std::cerr << "qkvd: SIGHUP: reloading pipelines and plugins\n";
        reload(nullptr);
      } else {
        begin_drain(sig);
      }
      wait_signal();
    });
  }

  void begin_drain(int sig) {
    if (draining.exchange(true)) {
      std::cerr << "qkvd: already draining\n";
      return;
    }
    std::cerr << "qkvd: " << (sig == SIGINT ? "SIGINT" : "SIGTERM")
              << ": no new jobs; draining running jobs for up to " << opt.drain.count() << " s\n";
    notify_stopping();
    backend->set_draining();
    server->stop_accepting();
    poll_timer.cancel();
    redis_timer.cancel();
    maintain_timer.cancel();
    drain_thread = std::thread([this] {
      scheduler->drain(std::chrono::steady_clock::now() + opt.drain);
      // Entries taken but never started go back to the group for the other workers.
      if (redis) redis->give_back_unstarted();
      asio::post(io, [this] {
        server->close_all();
        if (metrics_listener) metrics_listener->stop();
        // Let the last replies (end events) flush, then stop.
        stop_timer = std::make_unique<asio::steady_timer>(io, std::chrono::milliseconds(200));
        stop_timer->async_wait([this](const boost::system::error_code&) {
          signals.cancel();
          io.stop();
        });
      });
    });
  }

  // Applies the crash records earlier processes left: inline requests they name are
  // quarantined, jobs they name blamed (jobs/spool.cpp); then this process's own record file
  // is armed and the old ones go.
  void recover_from_crashes() {
    auto records = crash_log.earlier();
    for (auto& r : records) {
      std::string_view owner = r.owner;
      if (owner.substr(0, crash::kInlineOwnerPrefix.size()) == crash::kInlineOwnerPrefix) {
        quarantine.add(std::string(owner.substr(crash::kInlineOwnerPrefix.size())));
        std::cerr << "qkvd: error: an inline run of pipeline '" << r.pipeline << "' crashed qkvd ("
                  << crash::describe(r) << "); the same request is refused for "
                  << quarantine.period().count() << " s\n";
      } else if (owner.empty()) {
        std::cerr << "qkvd: error: the previous run died of " << crash::describe(r)
                  << " on a thread working for no job; nobody is blamed\n";
      } else {
        std::cerr << "qkvd: error: job " << r.owner << " crashed qkvd: " << crash::describe(r)
                  << "\n";
      }
    }
    source.recover(records);
    crash_log.arm();
    crash_log.forget_earlier();
  }

  int run() {
    recover_from_crashes();
    RunnerBundle b = runner.reload();  // throws: nothing to serve with
    for (auto& w : b.warnings) std::cerr << "qkvd: warning: " << w << "\n";
    loaded(b);
    source.poll(*scheduler);  // jobs waiting in the spool are known before clients ask
    server->listen();
    if (metrics_listener) metrics_listener->listen();
    wait_signal();
    schedule_poll();
    arm_poll();
    arm_redis_poll();
    arm_maintain();
    warm_up();
    std::cerr << "qkvd: serving on " << opt.socket.string() << " (" << executor->concurrency()
              << " threads, " << b.pipelines << " pipeline(s), " << b.plugins
              << " plugin(s), spool " << opt.spool.string() << ")\n";
    notify_ready("serving");
    io_threads.run();
    if (drain_thread.joinable()) drain_thread.join();
    blocking.join();
    compute.join();
    std::cerr << "qkvd: stopped\n";
    return 0;
  }

  ~Impl() {
    if (drain_thread.joinable()) drain_thread.join();
    blocking.join();
    compute.join();
  }

  ServiceOptions opt;
  asio::io_context io;
  server::IoThreads io_threads{io};  // serves `io`; small inline runs are done in place
  std::unique_ptr<jobs::Executor> executor;
  RunnerHolder runner;
  jobs::SpoolLock spool_lock;  // before anything reads or writes the spool
  jobs::Spool spool;
  crash::CrashLog crash_log;
  crash::Quarantine quarantine;
  io::PathPolicy policy;
  AccessPolicy access;
  jobs::Problems problems;  // health: load and reload set "pipelines"; job sources their own
  ServiceMetrics metrics;
  jobs::SpoolSource source;
  std::unique_ptr<jobs::redis::RedisSource> redis;  // after the scheduler is gone: declared before
  asio::thread_pool blocking{2};
  asio::thread_pool compute;
  // Declared after the pools, so it is destroyed (its workers joined) before them: a job that
  // ends during shutdown posts the next poll to `blocking` from its worker thread.
  std::unique_ptr<jobs::Scheduler> scheduler;
  std::unique_ptr<DaemonBackend> backend;
  std::unique_ptr<server::Server> server;
  std::unique_ptr<server::MetricsListener> metrics_listener;
  asio::signal_set signals;
  asio::steady_timer poll_timer, redis_timer, maintain_timer;
  std::unique_ptr<asio::steady_timer> stop_timer;
  std::atomic<bool> poll_pending{false}, draining{false}, redis_poll_busy{false};
  std::thread drain_thread;
};

DaemonService::DaemonService(ServiceOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
DaemonService::~DaemonService() = default;

int DaemonService::run() {
  ::signal(SIGPIPE, SIG_IGN);
  return impl_->run();
}

}  // namespace qkv::service
