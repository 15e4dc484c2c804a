#include "jobs/job_record.hpp"

#include "jobs/job_source.hpp"

namespace qkv::jobs {

JobRecord::JobRecord(std::string id, pipeline::JobSpec spec, Submitter who,
                     std::shared_ptr<JobLease> lease)
    : id_(std::move(id)),
      spec_(std::move(spec)),
      submitter_(std::move(who)),
      lease_(std::move(lease)) {
  times_.submitted = Clock::now();
}

bool JobRecord::request_cancel(std::string reason) {
  std::lock_guard lock(mutex_);
  if (outcome_) return false;
  if (cancel_reason_.empty()) cancel_reason_ = std::move(reason);
  cancel_.requested.store(true, std::memory_order_relaxed);
  return true;
}

std::string JobRecord::cancel_reason() const {
  std::lock_guard lock(mutex_);
  return cancel_reason_;
}

void JobRecord::mark_running() {
  std::lock_guard lock(mutex_);
  times_.started = Clock::now();
  state_.store(JobState::running, std::memory_order_release);
}

void JobRecord::finish(JobOutcome outcome) {
  std::vector<std::function<void(const JobRecord&)>> listeners;
  {
    std::lock_guard lock(mutex_);
    if (outcome_) return;
    times_.ended = Clock::now();
    state_.store(outcome.state, std::memory_order_release);
    outcome_ = std::move(outcome);
    listeners.swap(listeners_);
  }
  for (auto& fn : listeners) fn(*this);
}

void JobRecord::on_end(std::function<void(const JobRecord&)> fn) {
  {
    std::lock_guard lock(mutex_);
    if (!outcome_) {
      listeners_.push_back(std::move(fn));
      return;
    }
  }
  fn(*this);
}

JobRecord::Times JobRecord::times() const {
  std::lock_guard lock(mutex_);
  return times_;
}

std::optional<JobOutcome> JobRecord::outcome() const {
  std::lock_guard lock(mutex_);
  return outcome_;
}

}  // namespace qkv::jobs
