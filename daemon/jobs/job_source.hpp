// Job sources are one interface (docs/glossary.md, "job source"): the spool directory today (which
// socket submits also go through), a Redis Streams consumer group tomorrow. The scheduler only sees
// JobSink / JobLease, so adding a source touches neither the scheduler nor the pipeline.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crash/crash_record.hpp"

namespace qkv::protocol {
struct Identity;
}

namespace qkv::jobs {

class JobRecord;
struct JobOutcome;

// The source-side handle of one job: how to take it, end it and give it back durably.
class JobLease {
 public:
  virtual ~JobLease() = default;
  // Takes the job for running (spool: atomic rename incoming/ -> active/). False when another
  // consumer took it or it vanished: the scheduler then drops it silently.
  virtual bool claim() = 0;
  // Records the end durably (spool: report, then rename into done/ or failed/). Throws on I/O
  // failure; the job then stays claimed and is recovered on the next start.
  virtual void complete(const JobRecord& job, const JobOutcome& outcome) = 0;
  // Gives a claimed job back so it runs again later (shutdown before it finished).
  virtual void release() = 0;
};

// One place in the bounded queue, held between "room checked" and "job enqueued", so a
// source can make the job durable first and still never overfill the queue. Returns its
// place when dropped unused.
class QueueSlot {
 public:
  explicit QueueSlot(std::function<void()> give_back) : give_back_(std::move(give_back)) {}
  QueueSlot(QueueSlot&& o) noexcept : give_back_(std::exchange(o.give_back_, nullptr)) {}
  QueueSlot& operator=(QueueSlot&&) = delete;
  QueueSlot(const QueueSlot&) = delete;
  ~QueueSlot() {
    if (give_back_) give_back_();
  }
  // The queue takes the place over (called by the sink when the job is enqueued).
  void consume() noexcept { give_back_ = nullptr; }

 private:
  std::function<void()> give_back_;
};

// Where sources deliver jobs (the scheduler).
class JobSink {
 public:
  virtual ~JobSink() = default;
  // A place in the queue, or nullopt when the queue is full.
  virtual std::optional<QueueSlot> reserve() = 0;
  // Whether a job of `who` may take a place now: false (and `why` says so) when `who` already
  // has its share of the queue. Sources ask before reserve(); they serialize the two.
  virtual bool admits(const protocol::Identity& who, std::string* why) const {
    (void)who, (void)why;
    return true;
  }
  virtual void enqueue(QueueSlot slot, std::shared_ptr<JobRecord> job) = 0;
  // True while a job with this id is queued or running here (sources skip it when polling).
  virtual bool knows(std::string_view id) const = 0;
};

class JobSource {
 public:
  virtual ~JobSource() = default;
  virtual std::string_view name() const = 0;
  // Once at start, before serving: put back what a crash left behind. `crashes` are the crash
  // records of earlier processes: a job is blamed only when one names it.
  virtual void recover(const std::vector<crash::Record>& crashes) { (void)crashes; }
  // Offers waiting jobs while the sink has room; returns how many were enqueued. Called
  // periodically and whenever a queue place frees.
  virtual std::size_t poll(JobSink& sink) = 0;
  // Housekeeping (retention), called now and then.
  virtual void maintain() {}
};

}  // namespace qkv::jobs
