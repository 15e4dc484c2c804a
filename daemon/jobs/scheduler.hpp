// The scheduler: a bounded queue of waiting jobs and a fixed set of job threads that run them
// on the shared executor. Jobs start round-robin across submitters (oldest first within one),
// and each submitter may hold at most max_queued_per_submitter places. Enforces the queue bound,
// run-time limit and cancel; knows nothing about where jobs come from (JobLease) or how they are
// computed (JobRunner).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "jobs/executor.hpp"
#include "jobs/job_record.hpp"
#include "jobs/job_runner.hpp"
#include "jobs/job_source.hpp"

namespace qkv::jobs {

struct SchedulerOptions {
  std::size_t max_queue = 64;                // waiting jobs (running ones do not count)
  unsigned max_running = 1;                  // jobs running at once
  std::chrono::milliseconds max_run{0};      // 0: no limit
  std::size_t history = 1000;                // ended jobs kept in memory for status/list
  std::size_t max_queued_per_submitter = 0;  // 0: no limit (queued jobs of one submitter)
};

struct SchedulerStats {
  std::size_t queued = 0, running = 0;
  uint64_t accepted = 0, done = 0, failed = 0, cancelled = 0, rejected = 0;
  uint64_t documents = 0, tokens = 0, input_bytes = 0;
};

enum class CancelResult { not_found, already_ended, cancelled_queued, cancelling_running };

class Scheduler final : public JobSink {
 public:
  // `runner` is asked for the current runner each time a job starts (reload swaps it;
  // running jobs keep the one they started with).
  Scheduler(SchedulerOptions options, Executor& executor,
            std::function<std::shared_ptr<JobRunner>()> runner);
  ~Scheduler() override;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Called (from a job thread) each time a queue place frees: sources may offer more.
  void set_on_room(std::function<void()> fn);
  // Called (from a job thread) after each job has ended and its end is durable.
  void set_on_end(std::function<void(const JobRecord&)> fn);

  std::optional<QueueSlot> reserve() override;
  bool admits(const Submitter& who, std::string* why) const override;
  void enqueue(QueueSlot slot, std::shared_ptr<JobRecord> job) override;
  bool knows(std::string_view id) const override;

  std::shared_ptr<JobRecord> find(std::string_view id) const;
  // Queued and running jobs in order, then recently ended ones (newest first).
  std::vector<std::shared_ptr<JobRecord>> list() const;
  CancelResult cancel(std::string_view id);
  SchedulerStats stats() const;
  void count_rejected() noexcept;

  // Stops starting queued jobs, lets running ones finish until `deadline`, then cancels them
  // and gives every unfinished job back to its source. Returns when all job threads are idle.
  void drain(std::chrono::steady_clock::time_point deadline);

 private:
  void worker_loop();
  void watchdog_loop();
  void run_one(const std::shared_ptr<JobRecord>& job);
  JobOutcome execute(const std::shared_ptr<JobRecord>& job);
  void retire(const std::shared_ptr<JobRecord>& job, const JobOutcome& outcome);
  // Records the end through the lease, retrying while it fails; false when qkvd stops first.
  bool record_end(const std::shared_ptr<JobRecord>& job, const JobOutcome& out);
  void give_back_slot();
  void forget(const std::shared_ptr<JobRecord>& job);  // drops it from live_ (mutex held)
  // Queue bookkeeping (mutex held): every queue_ insert and removal goes through these.
  void push_queued(std::shared_ptr<JobRecord> job);
  std::shared_ptr<JobRecord> take_next();  // round-robin across submitters
  void drop_queued(std::deque<std::shared_ptr<JobRecord>>::iterator it);

  const SchedulerOptions options_;
  Executor& executor_;
  const std::function<std::shared_ptr<JobRunner>()> runner_;
  std::function<void()> on_room_;
  std::function<void(const JobRecord&)> on_end_;

  mutable std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::size_t reserved_ = 0;                      // reserved + queued places
  std::deque<std::shared_ptr<JobRecord>> queue_;  // in arrival order
  std::map<std::string, std::size_t> queued_by_;  // queued jobs per submitter key
  std::deque<std::string> turns_;                 // submitters with queued jobs, next first
  std::map<std::string, std::shared_ptr<JobRecord>, std::less<>> live_;  // queued + running
  std::deque<std::shared_ptr<JobRecord>> history_;
  std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> running_since_;
  SchedulerStats counters_;
  bool draining_ = false;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  std::thread watchdog_;
};

}  // namespace qkv::jobs
