#include "jobs/scheduler.hpp"

#include <algorithm>
#include <iostream>

#include "crash/call_slot.hpp"
#include "jobs/job_error.hpp"

namespace qkv::jobs {

using Steady = std::chrono::steady_clock;

namespace {

// One submitter for fairness: the owner as protocol::same_owner sees it (token, else uid).
std::string submitter_key(const Submitter& who) {
  return who.via == protocol::via::tcp ? "token " + who.token : "uid " + std::to_string(who.uid);
}

}  // namespace

Scheduler::Scheduler(SchedulerOptions options, Executor& executor,
                     std::function<std::shared_ptr<JobRunner>()> runner)
    : options_(options), executor_(executor), runner_(std::move(runner)) {
  unsigned n = std::max(1u, options_.max_running);
  for (unsigned i = 0; i < n; ++i) workers_.emplace_back([this] { worker_loop(); });
  if (options_.max_run.count() > 0) watchdog_ = std::thread([this] { watchdog_loop(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& [id, job] : live_)
      if (job->state() == JobState::running) job->request_cancel("shutdown");
  }
  work_cv_.notify_all();
  idle_cv_.notify_all();
  for (auto& t : workers_) t.join();
  if (watchdog_.joinable()) watchdog_.join();
}

void Scheduler::set_on_room(std::function<void()> fn) { on_room_ = std::move(fn); }
void Scheduler::set_on_end(std::function<void(const JobRecord&)> fn) { on_end_ = std::move(fn); }

std::optional<QueueSlot> Scheduler::reserve() {
  std::lock_guard lock(mutex_);
  if (draining_ || reserved_ >= options_.max_queue) return std::nullopt;
  ++reserved_;
  return QueueSlot([this] { give_back_slot(); });
}

bool Scheduler::admits(const Submitter& who, std::string* why) const {
  if (!options_.max_queued_per_submitter) return true;
  std::lock_guard lock(mutex_);
  auto it = queued_by_.find(submitter_key(who));
  if (it == queued_by_.end() || it->second < options_.max_queued_per_submitter) return true;
  if (why)
    *why = protocol::describe(who) + " already has " + std::to_string(it->second) +
           " jobs queued (limits.max_queued_per_submitter); retry later";
  return false;
}

void Scheduler::push_queued(std::shared_ptr<JobRecord> job) {
  auto key = submitter_key(job->submitter());
  if (queued_by_[key]++ == 0) turns_.push_back(key);
  queue_.push_back(std::move(job));
}

void Scheduler::drop_queued(std::deque<std::shared_ptr<JobRecord>>::iterator it) {
  auto key = submitter_key((*it)->submitter());
  queue_.erase(it);
  if (auto q = queued_by_.find(key); q != queued_by_.end() && --q->second == 0) {
    queued_by_.erase(q);
    std::erase(turns_, key);
  }
}

std::shared_ptr<JobRecord> Scheduler::take_next() {
  // The submitter whose turn it is gives its oldest job, then goes to the back of the turns.
  const std::string key = turns_.front();
  auto it = std::find_if(queue_.begin(), queue_.end(),
                         [&](const auto& j) { return submitter_key(j->submitter()) == key; });
  auto job = *it;
  drop_queued(it);
  if (queued_by_.count(key)) {
    std::erase(turns_, key);
    turns_.push_back(key);
  }
  return job;
}

void Scheduler::give_back_slot() {
  {
    std::lock_guard lock(mutex_);
    --reserved_;
  }
  if (on_room_) on_room_();
}

void Scheduler::enqueue(QueueSlot slot, std::shared_ptr<JobRecord> job) {
  {
    std::lock_guard lock(mutex_);
    if (live_.count(job->id())) return;  // offered twice: the slot goes back after unlock
    slot.consume();
    live_.emplace(job->id(), job);
    push_queued(std::move(job));
    ++counters_.accepted;
  }
  work_cv_.notify_one();
}

bool Scheduler::knows(std::string_view id) const {
  std::lock_guard lock(mutex_);
  return live_.find(id) != live_.end();
}

std::shared_ptr<JobRecord> Scheduler::find(std::string_view id) const {
  std::lock_guard lock(mutex_);
  if (auto it = live_.find(id); it != live_.end()) return it->second;
  for (auto& j : history_)
    if (j->id() == id) return j;
  return nullptr;
}

std::vector<std::shared_ptr<JobRecord>> Scheduler::list() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<JobRecord>> out;
  // Started jobs first: running, or starting (taken off the queue, lease not yet claimed, so
  // still in state queued) - a starting job is in neither the queue nor state running.
  for (auto& [id, job] : live_)
    if (running_since_.count(id)) out.push_back(job);
  out.insert(out.end(), queue_.begin(), queue_.end());
  out.insert(out.end(), history_.rbegin(), history_.rend());
  return out;
}

CancelResult Scheduler::cancel(std::string_view id) {
  std::shared_ptr<JobRecord> queued;
  {
    std::lock_guard lock(mutex_);
    auto it = live_.find(id);
    if (it == live_.end()) {
      for (auto& j : history_)
        if (j->id() == id) return CancelResult::already_ended;
      return CancelResult::not_found;
    }
    auto q = std::find(queue_.begin(), queue_.end(), it->second);
    if (q == queue_.end()) {
      it->second->request_cancel(std::string(code::cancelled));
      return CancelResult::cancelling_running;
    }
    queued = *q;
    drop_queued(q);
    --reserved_;
  }
  // A queued job ends at once, through its source like any other (claim, then report).
  queued->request_cancel(std::string(code::cancelled));
  JobOutcome out;
  out.state = JobState::cancelled;
  out.error_code = code::cancelled;
  out.error_message = "cancelled before it started";
  if (queued->lease().claim()) {
    try {
      queued->lease().complete(*queued, out);
    } catch (const std::exception& e) {
      std::cerr << "qkvd: error: job " << queued->id() << ": recording cancel failed: " << e.what()
                << "\n";
    }
  }
  retire(queued, out);
  if (on_room_) on_room_();
  return CancelResult::cancelled_queued;
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(mutex_);
  SchedulerStats s = counters_;
  s.queued = queue_.size();
  s.running = running_since_.size();
  return s;
}

void Scheduler::count_rejected() noexcept {
  std::lock_guard lock(mutex_);
  ++counters_.rejected;
}

void Scheduler::drain(Steady::time_point deadline) {
  std::vector<std::shared_ptr<JobRecord>> waiting;
  {
    std::unique_lock lock(mutex_);
    draining_ = true;
    // Queued jobs were never claimed: they stay with their source for the next start.
    waiting.assign(queue_.begin(), queue_.end());
    for (auto& j : waiting) forget(j);
    reserved_ -= queue_.size();
    queue_.clear();
    queued_by_.clear();
    turns_.clear();
  }
  work_cv_.notify_all();
  for (auto& j : waiting) {
    JobOutcome out;
    out.state = JobState::queued;
    out.error_code = code::shutting_down;
    out.error_message = "qkvd stopped before the job started; it runs after the next start";
    j->finish(std::move(out));
  }
  std::unique_lock lock(mutex_);
  if (!idle_cv_.wait_until(lock, deadline, [&] { return running_since_.empty(); })) {
    std::cerr << "qkvd: warning: drain deadline reached, stopping " << running_since_.size()
              << " running job(s); they run again after the next start\n";
    for (auto& [id, t] : running_since_)
      if (auto it = live_.find(id); it != live_.end()) it->second->request_cancel("shutdown");
    // Cancel is prompt; a runner that ignores it is abandoned after a grace period (its job
    // stays claimed and counts as interrupted by a crash on the next start).
    idle_cv_.wait_for(lock, std::chrono::seconds(10), [&] { return running_since_.empty(); });
  }
  stopping_ = true;
  lock.unlock();
  work_cv_.notify_all();
  idle_cv_.notify_all();
}

void Scheduler::forget(const std::shared_ptr<JobRecord>& job) {
  if (auto it = live_.find(job->id()); it != live_.end() && it->second == job) live_.erase(it);
}

void Scheduler::worker_loop() {
  for (;;) {
    std::shared_ptr<JobRecord> job;
    {
      std::unique_lock lock(mutex_);
      work_cv_.wait(lock, [&] { return stopping_ || (!draining_ && !queue_.empty()); });
      if (stopping_) return;
      job = take_next();
      --reserved_;
      // Registered as running before the lock drops, so drain() waits for it.
      running_since_.emplace(job->id(), Steady::now());
    }
    if (on_room_) on_room_();
    run_one(job);
  }
}

void Scheduler::watchdog_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    idle_cv_.wait_for(lock, std::chrono::milliseconds(50));
    auto now = Steady::now();
    for (auto& [id, since] : running_since_)
      if (now - since > options_.max_run)
        if (auto it = live_.find(id); it != live_.end())
          it->second->request_cancel(std::string(code::timeout));
  }
}

void Scheduler::run_one(const std::shared_ptr<JobRecord>& job) {
  if (!job->lease().claim()) {  // taken by another consumer, or deleted by hand
    std::lock_guard lock(mutex_);
    running_since_.erase(job->id());
    forget(job);
    idle_cv_.notify_all();
    return;
  }
  job->mark_running();
  JobOutcome out = execute(job);
  if (job->cancel_reason() == "shutdown") {
    try {
      job->lease().release();
    } catch (const std::exception& e) {
      std::cerr << "qkvd: error: job " << job->id() << ": giving it back failed: " << e.what()
                << "\n";
    }
    out.state = JobState::queued;
    out.error_code = code::shutting_down;
    out.error_message = "qkvd stopped while the job ran; it runs again after the next start";
  } else if (!record_end(job, out)) {
    // Stopped before the end could be recorded: the job stays claimed; the next start counts
    // it finished when its output manifest names it (jobs/spool.cpp), else runs it again.
    out.state = JobState::queued;
    out.error_code = code::shutting_down;
    out.error_message = "qkvd stopped before the job's end could be recorded";
  }
  retire(job, out);
}

bool Scheduler::record_end(const std::shared_ptr<JobRecord>& job, const JobOutcome& out) {
  // A full spool must not turn a complete output into "failed" now and a second, different end
  // after a restart: the record is retried (waiters hear nothing meanwhile) until it succeeds
  // or qkvd stops.
  auto pause = std::chrono::milliseconds(50);
  for (int attempt = 0;; ++attempt) {
    try {
      job->lease().complete(*job, out);
      if (attempt > 0)
        std::cerr << "qkvd: job " << job->id() << ": its end is recorded (attempt " << attempt + 1
                  << ")\n";
      return true;
    } catch (const std::exception& e) {
      if (attempt == 0 || pause >= std::chrono::seconds(2))
        std::cerr << "qkvd: error: job " << job->id() << ": recording its end failed: " << e.what()
                  << "; retrying\n";
    }
    std::unique_lock lock(mutex_);
    work_cv_.wait_for(lock, pause, [&] { return stopping_; });
    if (stopping_ || job->cancel_reason() == "shutdown") return false;
    pause = std::min<std::chrono::milliseconds>(pause * 2, std::chrono::seconds(2));
  }
}

JobOutcome Scheduler::execute(const std::shared_ptr<JobRecord>& job) {
  JobOutcome out;
  pipeline::JobSpec spec = job->spec();
  spec.id = job->id();  // named in messages and recorded in the output manifest
  if (executor_.single_threaded_jobs()) spec.threads = 1;
  try {
    auto runner = runner_();
    if (!job->cancel_flag()())
      executor_.execute([&] {
        // A crash on this thread (or on the threads running this job's chunks) names this job.
        crash::OwnerScope owner(job->id(), spec.pipeline);
        out.result = runner->run(spec, job->progress(), job->cancel_flag());
      });
    out.state = JobState::done;
  } catch (const JobError& e) {
    out.state = JobState::failed;
    out.error_code = e.code();
    out.error_message = e.what();
  } catch (const std::exception& e) {
    out.state = JobState::failed;
    out.error_code = code::job_failed;
    out.error_message = e.what();
  }
  // A cancelled job may stop early with or without an exception: its reason decides.
  if (job->cancel_flag()()) {
    std::string reason = job->cancel_reason();
    out.result.outputs.clear();
    if (reason == code::timeout) {
      out.state = JobState::failed;
      out.error_code = code::timeout;
      out.error_message = "the job ran longer than limits.max_run_seconds and was stopped";
    } else {
      out.state = JobState::cancelled;
      out.error_code = reason;
      out.error_message = "cancelled while running";
    }
  }
  return out;
}

void Scheduler::retire(const std::shared_ptr<JobRecord>& job, const JobOutcome& outcome) {
  {
    std::lock_guard lock(mutex_);
    running_since_.erase(job->id());
    forget(job);
    if (outcome.state != JobState::queued) {
      history_.push_back(job);
      while (history_.size() > options_.history) history_.pop_front();
    }
    switch (outcome.state) {
      case JobState::done:
        ++counters_.done;
        break;
      case JobState::failed:
        ++counters_.failed;
        break;
      case JobState::cancelled:
        ++counters_.cancelled;
        break;
      default:
        break;
    }
    counters_.documents += outcome.result.documents;
    counters_.tokens += outcome.result.tokens;
    counters_.input_bytes += outcome.result.input_bytes;
  }
  idle_cv_.notify_all();
  job->finish(outcome);
  if (on_end_ && outcome.state != JobState::queued) on_end_(*job);
}

}  // namespace qkv::jobs
