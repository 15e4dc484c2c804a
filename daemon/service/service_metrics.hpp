// The numbers behind `GET /metrics` (docs/service.md lists every name): counters and
// histograms that jobs and inline runs add to as they end, and the gauges read at scrape
// time. Aggregates only (per pipeline at most): no job ids, paths or submitters, since the
// listener has no authentication.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "jobs/job_record.hpp"
#include "jobs/redis/redis_source.hpp"
#include "jobs/scheduler.hpp"
#include "service/histogram.hpp"

namespace qkv::service {

// What the service knows at scrape time.
struct MetricsSnapshot {
  jobs::SchedulerStats scheduler;
  std::size_t max_queue = 0;
  std::string health;  // ok, degraded, draining
  std::size_t problems = 0;
  double uptime_seconds = 0;
  std::size_t connections = 0;
  uint64_t runner_generation = 0;
  std::vector<std::pair<std::string, uint64_t>> requests;  // per op
  // The Redis source's figures (RedisSource::figures) and whether it works; absent: none.
  std::optional<jobs::redis::Figures> redis;
  bool redis_up = false;
};

class ServiceMetrics {
 public:
  void job_ended(const jobs::JobRecord& job);
  void inline_ended(const std::string& pipeline, double seconds, bool ok, uint64_t documents,
                    uint64_t tokens, uint64_t bytes);
  // The pipelines of the last load: only these are label values; any other name (a pipeline
  // file a client named, a typo) counts as "other", so no path shows and labels stay few.
  void set_known_pipelines(std::set<std::string> names);
  // The Prometheus text exposition (format 0.0.4).
  std::string render(const MetricsSnapshot& now) const;

 private:
  struct PerPipeline {
    std::map<std::string, uint64_t> ended;  // by final state
    uint64_t documents = 0, tokens = 0, bytes = 0, inline_ok = 0, inline_errors = 0;
    Histogram job_seconds, inline_seconds;
    PerPipeline();
  };
  PerPipeline& of(const std::string& pipeline);  // with mutex_ held
  std::set<std::string> known_;

  mutable std::mutex mutex_;
  std::map<std::string, PerPipeline> pipelines_;
};

}  // namespace qkv::service
