// Everything the daemon knows about one job while it is queued, running or recently ended.
// Shared (shared_ptr) between the scheduler, its source and any connection watching it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "jobs/job_state.hpp"
#include "protocol/identity.hpp"
#include "pipeline/job.hpp"

namespace qkv::jobs {

class JobLease;

// Who asked for the job: the proven identity of the socket client (SO_PEERCRED or a TCP
// token), or the owner of a dropped file.
using Submitter = protocol::Identity;

// How a job ended; filled once, when it reaches a terminal state.
struct JobOutcome {
  JobState state = JobState::done;
  std::string error_code;  // empty when done
  std::string error_message;
  pipeline::JobResult result;
};

using Clock = std::chrono::system_clock;

class JobRecord {
 public:
  JobRecord(std::string id, pipeline::JobSpec spec, Submitter who, std::shared_ptr<JobLease> lease);

  const std::string& id() const noexcept { return id_; }
  const pipeline::JobSpec& spec() const noexcept { return spec_; }
  const Submitter& submitter() const noexcept { return submitter_; }
  JobLease& lease() const noexcept { return *lease_; }

  JobState state() const noexcept { return state_.load(std::memory_order_acquire); }
  pipeline::JobProgress& progress() noexcept { return progress_; }
  const pipeline::JobProgress& progress() const noexcept { return progress_; }
  pipeline::CancelFlag& cancel_flag() noexcept { return cancel_; }

  // Asks the job to stop; `reason` becomes its error code ("cancelled", "timeout",
  // "shutdown"). The first reason wins. Returns false when the job had already ended.
  bool request_cancel(std::string reason);
  std::string cancel_reason() const;

  void mark_running();
  // Sets the terminal state and runs the end listeners (once).
  void finish(JobOutcome outcome);

  // Runs `fn` when the job ends (at once, on this thread, if it already has).
  void on_end(std::function<void(const JobRecord&)> fn);

  struct Times {
    Clock::time_point submitted;
    std::optional<Clock::time_point> started, ended;
  };
  Times times() const;
  std::optional<JobOutcome> outcome() const;

 private:
  const std::string id_;
  const pipeline::JobSpec spec_;
  const Submitter submitter_;
  const std::shared_ptr<JobLease> lease_;
  std::atomic<JobState> state_{JobState::queued};
  pipeline::JobProgress progress_;
  pipeline::CancelFlag cancel_;

  mutable std::mutex mutex_;
  Times times_;
  std::string cancel_reason_;
  std::optional<JobOutcome> outcome_;
  std::vector<std::function<void(const JobRecord&)>> listeners_;
};

}  // namespace qkv::jobs
