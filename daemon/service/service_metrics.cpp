#include "service/service_metrics.hpp"

#include <array>
#include <cstdio>

namespace qkv::service {
namespace {

// Jobs run from a fraction of a second to hours; inline runs from a millisecond to the
// request timeout.
constexpr std::array<double, 11> kJobBounds = {0.1, 0.5, 1,    5,     15,   60,
                                               300, 900, 3600, 14400, 86400};
constexpr std::array<double, 13> kInlineBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                  0.25,  0.5,    1,     2.5,  5,     10};

// A label value as the exposition format wants it: backslash, quote and newline escaped.
std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void head(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

ServiceMetrics::PerPipeline::PerPipeline()
    : job_seconds(kJobBounds), inline_seconds(kInlineBounds) {}

void ServiceMetrics::set_known_pipelines(std::set<std::string> names) {
  std::lock_guard lock(mutex_);
  known_ = std::move(names);
}

ServiceMetrics::PerPipeline& ServiceMetrics::of(const std::string& pipeline) {
  return pipelines_.try_emplace(known_.count(pipeline) ? pipeline : std::string("other"))
      .first->second;
}

void ServiceMetrics::job_ended(const jobs::JobRecord& job) {
  auto outcome = job.outcome();
  if (!outcome) return;
  auto t = job.times();
  double seconds = outcome->result.seconds;
  if (seconds <= 0 && t.started && t.ended)
    seconds = std::chrono::duration<double>(*t.ended - *t.started).count();
  std::lock_guard lock(mutex_);
  auto& p = of(job.spec().pipeline);
  ++p.ended[std::string(jobs::to_string(outcome->state))];
  p.documents += outcome->result.documents;
  p.tokens += outcome->result.tokens;
  p.bytes += outcome->result.input_bytes;
  if (t.started) p.job_seconds.observe(seconds);  // a job cancelled in the queue never ran
}

void ServiceMetrics::inline_ended(const std::string& pipeline, double seconds, bool ok,
                                  uint64_t documents, uint64_t tokens, uint64_t bytes) {
  std::lock_guard lock(mutex_);
  auto& p = of(pipeline);
  ++(ok ? p.inline_ok : p.inline_errors);
  p.documents += documents;
  p.tokens += tokens;
  p.bytes += bytes;
  p.inline_seconds.observe(seconds);
}

std::string ServiceMetrics::render(const MetricsSnapshot& now) const {
  std::string out;
  head(out, "qkv_health", "gauge", "1 for the daemon's current health status, 0 for the others");
  for (const char* s : {"ok", "degraded", "draining"})
    out += std::string("qkv_health{status=\"") + s + "\"} " + (now.health == s ? "1" : "0") + "\n";
  head(out, "qkv_problems", "gauge",
       "Problems health reports (invalid pipelines, refused plugins, sources)");
  out += "qkv_problems " + std::to_string(now.problems) + "\n";
  head(out, "qkv_uptime_seconds", "gauge", "Seconds since qkvd started");
  out += "qkv_uptime_seconds " + number(now.uptime_seconds) + "\n";
  head(out, "qkv_connections", "gauge", "Open protocol connections");
  out += "qkv_connections " + std::to_string(now.connections) + "\n";
  head(out, "qkv_runner_generation", "gauge",
       "Successful loads and reloads of pipelines and plugins");
  out += "qkv_runner_generation " + std::to_string(now.runner_generation) + "\n";
  head(out, "qkv_jobs", "gauge", "Jobs queued or running now");
  out += "qkv_jobs{state=\"queued\"} " + std::to_string(now.scheduler.queued) + "\n";
  out += "qkv_jobs{state=\"running\"} " + std::to_string(now.scheduler.running) + "\n";
  head(out, "qkv_queue_depth", "gauge", "Jobs waiting in the queue");
  out += "qkv_queue_depth " + std::to_string(now.scheduler.queued) + "\n";
  head(out, "qkv_queue_capacity", "gauge", "limits.max_queue");
  out += "qkv_queue_capacity " + std::to_string(now.max_queue) + "\n";
  head(out, "qkv_jobs_accepted_total", "counter", "Jobs accepted into the queue");
  out += "qkv_jobs_accepted_total " + std::to_string(now.scheduler.accepted) + "\n";
  head(out, "qkv_jobs_rejected_total", "counter", "Submits refused (queue full, draining)");
  out += "qkv_jobs_rejected_total " + std::to_string(now.scheduler.rejected) + "\n";
  head(out, "qkv_requests_total", "counter", "Protocol requests by op");
  for (const auto& [op, n] : now.requests)
    out += "qkv_requests_total{op=\"" + op + "\"} " + std::to_string(n) + "\n";
  if (const auto& r = now.redis) {  // sources.redis (docs/scale-out.md)
    head(out, "qkv_redis_up", "gauge", "1 while the Redis source reaches Redis, else 0");
    out += std::string("qkv_redis_up ") + (now.redis_up ? "1" : "0") + "\n";
    head(out, "qkv_redis_pending", "gauge",
         "Stream entries delivered to a worker of the group and not acked (last heartbeat)");
    out += "qkv_redis_pending " + std::to_string(r->pending) + "\n";
    if (r->lag >= 0) {
      head(out, "qkv_redis_lag", "gauge", "Stream entries not yet delivered to the group");
      out += "qkv_redis_lag " + std::to_string(r->lag) + "\n";
    }
    head(out, "qkv_redis_dead_letters", "gauge", "Entries in <stream>:dead");
    out += "qkv_redis_dead_letters " + std::to_string(r->dead) + "\n";
    const std::pair<const char*, uint64_t> counters[] = {
        {"qkv_redis_entries_taken_total", r->taken},
        {"qkv_redis_ends_recorded_total", r->recorded},
        {"qkv_redis_leases_lost_total", r->lost},
        {"qkv_redis_dead_lettered_total", r->dead_lettered},
        {"qkv_redis_reconnects_total", r->reconnects}};
    const char* helps[] = {"Entries this worker took (new or taken over)",
                           "Job ends this worker recorded",
                           "Entries this worker lost to another worker's takeover",
                           "Entries this worker moved to <stream>:dead",
                           "Times this worker reached Redis again after losing it"};
    for (std::size_t i = 0; i < std::size(counters); ++i) {
      head(out, counters[i].first, "counter", helps[i]);
      out += std::string(counters[i].first) + " " + std::to_string(counters[i].second) + "\n";
    }
  }

  std::lock_guard lock(mutex_);
  head(out, "qkv_jobs_ended_total", "counter", "File jobs ended, by pipeline and final state");
  for (const auto& [name, p] : pipelines_)
    for (const auto& [state, n] : p.ended)
      out += "qkv_jobs_ended_total{pipeline=\"" + label(name) + "\",state=\"" + state + "\"} " +
             std::to_string(n) + "\n";
  head(out, "qkv_inline_requests_total", "counter", "Inline runs answered, by pipeline and result");
  for (const auto& [name, p] : pipelines_) {
    out += "qkv_inline_requests_total{pipeline=\"" + label(name) + "\",result=\"ok\"} " +
           std::to_string(p.inline_ok) + "\n";
    out += "qkv_inline_requests_total{pipeline=\"" + label(name) + "\",result=\"error\"} " +
           std::to_string(p.inline_errors) + "\n";
  }
  struct Counter {
    const char* name;
    const char* help;
    uint64_t PerPipeline::*field;
  };
  for (const Counter& c :
       {Counter{"qkv_documents_processed_total", "Documents processed (file jobs and inline runs)",
                &PerPipeline::documents},
        Counter{"qkv_tokens_processed_total", "Tokens produced (file jobs and inline runs)",
                &PerPipeline::tokens},
        Counter{"qkv_input_bytes_processed_total", "Input bytes read (after decompression)",
                &PerPipeline::bytes}}) {
    head(out, c.name, "counter", c.help);
    for (const auto& [name, p] : pipelines_)
      out += std::string(c.name) + "{pipeline=\"" + label(name) + "\"} " +
             std::to_string(p.*c.field) + "\n";
  }
  head(out, "qkv_job_duration_seconds", "histogram", "Run time of file jobs that started");
  for (const auto& [name, p] : pipelines_)
    p.job_seconds.write(out, "qkv_job_duration_seconds", "pipeline=\"" + label(name) + "\"");
  head(out, "qkv_inline_request_duration_seconds", "histogram",
       "Latency of inline runs, from arrival to reply");
  for (const auto& [name, p] : pipelines_)
    p.inline_seconds.write(out, "qkv_inline_request_duration_seconds",
                           "pipeline=\"" + label(name) + "\"");
  return out;
}

}  // namespace qkv::service
