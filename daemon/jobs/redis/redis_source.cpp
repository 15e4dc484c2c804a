#include "jobs/redis/redis_source.hpp"

#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "io/output_set.hpp"
#include "jobs/job_error.hpp"
#include "jobs/job_json.hpp"
#include "jobs/redis/redis_scripts.hpp"
#include "jobs/request_key.hpp"
#include "jobs/shard_manifest.hpp"
#include "jobs/spool.hpp"

namespace qkv::jobs::redis {
namespace {

using Steady = std::chrono::steady_clock;
constexpr std::size_t kMaxTakePerPoll = 64;
constexpr auto kFirstBackoff = std::chrono::milliseconds(200);
constexpr auto kMaxBackoff = std::chrono::milliseconds(10000);

// A delivered stream entry as field/value pairs (XREADGROUP/XAUTOCLAIM reply layout).
std::vector<std::pair<std::string, std::string>> pairs_of(const Reply& fields) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i + 1 < fields.elements.size(); i += 2)
    out.emplace_back(fields.elements[i].str, fields.elements[i + 1].str);
  return out;
}

std::string field_or(const std::vector<std::pair<std::string, std::string>>& f,
                     std::string_view name, std::string fallback = "") {
  for (auto& [k, v] : f)
    if (k == name) return v;
  return fallback;
}

// The job id of an entry: a shard's is its parent's with ".s<index>" (so it does not change
// when the entry is given back as a fresh copy, and the parent manifest can name it).
std::string id_of(const std::vector<std::pair<std::string, std::string>>& f,
                  const std::string& entry) {
  std::string parent = field_or(f, "parent"), shard = field_or(f, "shard");
  if (parent.empty() || shard.empty()) return job_id_of(entry);
  try {
    return shard_job_id(parent, static_cast<unsigned>(std::stoul(shard)));
  } catch (const std::exception&) {
    return job_id_of(entry);
  }
}

class RedisLease final : public JobLease {
 public:
  RedisLease(RedisSource& source, std::string entry) : source_(source), entry_(std::move(entry)) {}
  bool claim() override {
    // The entry is already delivered to this consumer; it is ours while we still hold it
    // (the heartbeat drops entries another worker took over).
    return source_.started(entry_);
  }
  void complete(const JobRecord& job, const JobOutcome& outcome) override {
    source_.record_end(entry_, job, outcome);
  }
  void release() override { source_.requeue(entry_); }

 private:
  RedisSource& source_;
  std::string entry_;
};

}  // namespace

std::string job_id_of(const std::string& entry) { return "redis-" + entry; }

RedisSource::RedisSource(Options options,
                         std::function<pipeline::JobSpec(const nlohmann::json&)> checked_spec)
    : options_(std::move(options)),
      checked_spec_(std::move(checked_spec)),
      results_(options_.stream + ":results"),
      dead_(options_.stream + ":dead"),
      parents_(options_.stream + ":parents"),
      client_(parse_url(options_.url), Credentials{options_.username, options_.password}) {
  if (options_.consumer.empty()) options_.consumer = default_consumer();
  heartbeat_ = std::thread([this] { heartbeat_loop(); });
}

RedisSource::~RedisSource() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  heartbeat_.join();
}

void RedisSource::note_problem(const std::string& what) {
  std::lock_guard lock(mutex_);
  backoff_ = backoff_.count() ? std::min<std::chrono::milliseconds>(backoff_ * 2, kMaxBackoff)
                              : std::chrono::milliseconds(kFirstBackoff);
  retry_at_ = Steady::now() + backoff_;
  if (!problem_ || *problem_ != what)
    std::cerr << "qkvd: redis source: " << what << "; retrying with backoff\n";
  problem_ = what;
}

Reply RedisSource::call(const std::vector<std::string>& argv) {
  std::lock_guard lock(redis_mutex_);
  try {
    return client_.command(argv);
  } catch (const ConnectionError&) {
    group_ready_ = false;  // a restarted Redis without its data has no group
    throw;
  }
}

std::optional<std::string> RedisSource::problem() const {
  std::lock_guard lock(mutex_);
  return problem_;
}

void RedisSource::ensure_group() {
  {
    std::lock_guard lock(redis_mutex_);
    if (group_ready_) return;
  }
  try {
    // From the stream's start, so entries added before the first worker came are run too.
    call({"XGROUP", "CREATE", options_.stream, options_.group, "0", "MKSTREAM"});
  } catch (const ReplyError& e) {
    if (std::string_view(e.what()).find("BUSYGROUP") == std::string_view::npos) throw;
  }
  std::lock_guard lock(redis_mutex_);
  group_ready_ = true;
}

std::size_t RedisSource::poll(JobSink& sink) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || Steady::now() < retry_at_) return 0;
  }
  std::size_t n = 0;
  try {
    ensure_group();
    // One entry per queue place, taking one place at a time: a place held while Redis answers
    // is one a local submit cannot have (it would get queue_full), and what is not taken stays
    // in the stream for other workers.
    std::optional<QueueSlot> slot;
    auto next_slot = [&] {  // QueueSlot moves but is not assignable
      slot.reset();
      if (wants_more_ && !wants_more_()) return;  // what it cannot start soon stays for others
      if (auto s = sink.reserve()) slot.emplace(std::move(*s));
    };
    next_slot();
    const std::string idle_ms = std::to_string(options_.claim_idle.count() * 1000);
    // Takeovers first: entries of dead or cut-off workers, idle past claim_idle_seconds.
    while (slot && n < kMaxTakePerPoll) {
      Reply claimed = call({"XAUTOCLAIM", options_.stream, options_.group, options_.consumer,
                            idle_ms, autoclaim_cursor_, "COUNT", "1"});
      if (claimed.elements.size() < 2) break;
      autoclaim_cursor_ = claimed.elements[0].str;
      bool any = false;
      for (auto& e : claimed.elements[1].elements) {
        if (e.elements.size() < 2) continue;  // deleted meanwhile
        any = true;
        if (take_over(sink, *slot, e)) {
          ++n;
          next_slot();
          if (!slot) break;
        }
      }
      if (!any) break;
    }
    // Then new entries.
    while (slot && n < kMaxTakePerPoll) {
      Reply r = call({"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT", "1",
                      "STREAMS", options_.stream, ">"});
      bool any = false;
      for (auto& stream : r.elements) {
        if (stream.elements.size() < 2) continue;
        for (auto& e : stream.elements[1].elements) {
          if (e.elements.size() < 2 || !slot) continue;
          any = true;
          offer(sink, std::move(*slot), e.elements[0].str, e.elements[1], 1);
          ++n;
          next_slot();
        }
      }
      if (!any) break;
    }
    slot.reset();  // its place goes back before anything else happens
    std::lock_guard lock(mutex_);
    if (problem_) {
      std::cerr << "qkvd: redis source: connected to " << options_.url << " again\n";
      ++counts_.reconnects;
    }
    problem_.reset();
    backoff_ = std::chrono::milliseconds(0);
  } catch (const ConnectionError& e) {
    note_problem(e.what());
  } catch (const ReplyError& e) {
    {
      std::lock_guard lock(redis_mutex_);
      group_ready_ = false;  // NOGROUP after the stream was deleted: create it again
    }
    note_problem(std::string("Redis refused a command: ") + e.what());
  }
  return n;
}

bool RedisSource::take_over(JobSink& sink, QueueSlot& slot, const Reply& e) {
  const std::string& id = e.elements[0].str;
  {
    std::lock_guard lock(mutex_);
    if (held_.count(id)) return false;  // ours already (a heartbeat came late)
  }
  Reply p = call({"XPENDING", options_.stream, options_.group, id, id, "1"});
  long long deliveries = 0;
  if (!p.elements.empty() && p.elements[0].elements.size() >= 4)
    deliveries = p.elements[0].elements[3].integer;
  if (deliveries > static_cast<long long>(options_.max_deliveries)) {
    std::string reason = "delivered " + std::to_string(deliveries) +
                         " times, more than sources.redis.max_deliveries (" +
                         std::to_string(options_.max_deliveries) +
                         "): its workers died or lost it each time";
    dead_letter(id, pairs_of(e.elements[1]), reason);
    return false;
  }
  std::cerr << "qkvd: redis entry " << id << " taken over (idle more than "
            << options_.claim_idle.count() << " s, delivery " << deliveries << ")\n";
  offer(sink, std::move(slot), id, e.elements[1], deliveries);
  return true;
}

void RedisSource::offer(JobSink& sink, QueueSlot slot, const std::string& entry,
                        const Reply& fields, long long deliveries) {
  auto pairs = pairs_of(fields);
  const std::string id = id_of(pairs, entry);
  nlohmann::json file;
  pipeline::JobSpec spec;
  try {
    std::string text = field_or(pairs, "job");
    if (text.empty())
      throw JobError(code::bad_request, "the entry has no field 'job' (the job-file JSON)");
    try {
      file = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw JobError("bad_json", std::string("field 'job' is not valid JSON: ") + e.what());
    }
    spec = checked_spec_(file);
  } catch (const JobError& e) {
    end_unrun(entry, pairs, e.code(), e.what());
    return;
  } catch (const std::exception& e) {
    end_unrun(entry, pairs, std::string(code::bad_request), e.what());
    return;
  }
  if (std::string want = field_or(pairs, "pipeline_sha256");
      !want.empty() && hooks_.pipeline_sha256) {
    std::string have;
    try {
      have = hooks_.pipeline_sha256(spec);
    } catch (const std::exception& e) {
      have = std::string("unreadable (") + e.what() + ")";
    }
    // Shards of one job must run the same pipeline everywhere, or their outputs do not
    // concatenate into the unsharded one.
    if (have != want)
      return dead_letter(entry, pairs,
                         "pipeline_sha256 mismatch: pipeline '" + spec.pipeline + "' hashes to " +
                             have + " on worker " + options_.consumer +
                             ", the submitting worker's was " + want);
  }
  if (std::string parent = field_or(pairs, "parent"); !parent.empty()) {
    if (call({"EXISTS", cancel_key(parent)}).integer == 1)
      return end_unrun(entry, pairs, std::string(code::cancelled),
                       "sharded job " + parent + " was cancelled before this shard started",
                       "cancelled");
  }
  // A worker that died mid-job left its temporary files (a live writer's are kept:
  // io/atomic_file.hpp).
  if (deliveries > 1 && !spec.output.empty()) io::OutputSet::remove_stale_temps(spec.output);
  Submitter who;
  who.via = protocol::via::spool;
  who.uid = ::geteuid();
  if (auto it = file.find("submitted_by"); it != file.end() && it->is_object())
    who = protocol::identity_from_json(*it);
  if (sink.knows(id)) return;  // the slot goes back
  auto lease = std::make_shared<RedisLease>(*this, entry);
  auto record = std::make_shared<JobRecord>(id, std::move(spec), who, lease);
  {
    std::lock_guard lock(mutex_);
    held_[entry] = Entry{std::move(pairs), record, false};
    ++counts_.taken;
  }
  sink.enqueue(std::move(slot), record);
}

void RedisSource::end_unrun(const std::string& entry, const Pairs& pairs, const std::string& code,
                            const std::string& message, const char* state) {
  const std::string id = id_of(pairs, entry);
  std::cerr << "qkvd: redis entry " << entry << " (job " << id << "): " << message << "\n";
  nlohmann::json view = {{"id", id},
                         {"state", state},
                         {"queue", "redis"},
                         {"worker", options_.consumer},
                         {"ended_at", iso_time(Clock::now())},
                         {"error", {{"code", code}, {"message", message}}}};
  Pairs result{{"id", id},
               {"state", state},
               {"documents", "0"},
               {"tokens", "0"},
               {"worker", options_.consumer},
               {"seconds", "0"},
               {"error", code + ": " + message}};
  for (const char* k : {"parent", "shard"})  // shard entries only
    if (auto v = field_or(pairs, k); !v.empty()) result.emplace_back(k, v);
  end_entry(entry, pairs, view, result);
}

void RedisSource::dead_letter(const std::string& entry, const Pairs& pairs,
                              const std::string& reason) {
  const std::string parent = field_or(pairs, "parent");
  nlohmann::json view = {{"id", id_of(pairs, entry)},
                         {"state", "failed"},
                         {"queue", "redis"},
                         {"worker", options_.consumer},
                         {"ended_at", iso_time(Clock::now())},
                         {"error", {{"code", "dead_letter"}, {"message", reason}}}};
  std::vector<std::string> argv{"EVAL",
                                scripts::kDeadLetter,
                                "3",
                                options_.stream,
                                dead_,
                                parent_key(parent),
                                options_.group,
                                options_.consumer,
                                entry,
                                reason,
                                parent.empty() ? "" : field_or(pairs, "shard"),
                                report_text(view, -1)};
  for (auto& [k, v] : pairs) argv.insert(argv.end(), {k, v});
  call(argv);
  std::cerr << "qkvd: redis entry " << entry << " moved to " << dead_ << ": " << reason << "\n";
  std::lock_guard lock(mutex_);
  ++counts_.dead_lettered;
}

std::string RedisSource::parent_key(const std::string& parent) const {
  return options_.stream + ":parent:" + parent;
}

std::string RedisSource::cancel_key(const std::string& parent) const {
  return options_.stream + ":cancel:" + parent;
}

Reply RedisSource::end_entry(const std::string& entry, const Pairs& pairs,
                             const nlohmann::json& view, const Pairs& fields) {
  const std::string parent = field_or(pairs, "parent");
  std::vector<std::string> argv{
      "EVAL",
      scripts::kEnd,
      "4",
      options_.stream,
      options_.stream + ":end:" + entry,
      results_,
      parent_key(parent),
      options_.group,
      options_.consumer,
      entry,
      std::to_string(static_cast<long long>(options_.results_days * 86400) + 1),
      report_text(view, -1),
      parent.empty() ? "" : field_or(pairs, "shard"),
      view.value("state", "")};
  for (auto& [k, v] : fields) argv.insert(argv.end(), {k, v});
  Reply r = call(argv);
  if (r.str == "recorded-last" && hooks_.finish_parent) {
    // This end completed the set: the parent manifest, from the shards' own manifests (when
    // every shard is done; a failed shard leaves the parent failed and without one).
    try {
      if (auto s = shard_of(nlohmann::json::parse(field_or(pairs, "job"))))
        hooks_.finish_parent(*s);
    } catch (const nlohmann::json::exception&) {
      // A shard entry whose job does not parse never ran: it has no outputs to list.
    }
  }
  return r;
}

bool RedisSource::started(const std::string& entry) {
  std::lock_guard lock(mutex_);
  auto it = held_.find(entry);
  if (it == held_.end()) return false;
  it->second.running = true;
  return true;
}

void RedisSource::record_end(const std::string& entry, const JobRecord& job,
                             const JobOutcome& outcome) {
  double seconds = 0;
  if (auto started = job.times().started)
    seconds = std::chrono::duration<double>(Clock::now() - *started).count();
  std::vector<std::pair<std::string, std::string>> fields;
  {
    std::lock_guard lock(mutex_);
    if (auto it = held_.find(entry); it != held_.end()) fields = it->second.fields;
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.3f", seconds);
  std::vector<std::pair<std::string, std::string>> result{
      {"id", job.id()},
      {"state", std::string(to_string(outcome.state))},
      {"documents", std::to_string(outcome.result.documents)},
      {"tokens", std::to_string(outcome.result.tokens)},
      {"worker", options_.consumer},
      {"seconds", secs}};
  for (const char* k : {"parent", "shard"})  // shard entries only
    if (auto v = field_or(fields, k); !v.empty()) result.emplace_back(k, v);
  if (!outcome.error_code.empty())
    result.emplace_back("error", outcome.error_code + ": " + outcome.error_message);
  nlohmann::json view = job_view(job, &outcome);
  view["queue"] = "redis";
  view["worker"] = options_.consumer;
  view["ended_at"] = iso_time(Clock::now());
  Reply r;
  try {
    // A ConnectionError goes up: the scheduler retries (jobs/scheduler.cpp, record_end).
    r = end_entry(entry, fields, view, result);
  } catch (const ReplyError& e) {
    // Refused (the group is gone: Redis restarted without its data): retrying cannot help.
    std::cerr << "qkvd: job " << job.id() << ": Redis refused recording its end (" << e.what()
              << "); nothing recorded\n";
    std::lock_guard lock(mutex_);
    held_.erase(entry);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    // Counted lost once: here, or by the heartbeat that noticed first (and dropped it).
    if (held_.erase(entry) && r.str == "lost") ++counts_.lost;
    if (r.str == "recorded" || r.str == "recorded-last") ++counts_.recorded;
  }
  if (r.str == "lost")
    std::cerr << "qkvd: job " << job.id() << ": another worker took redis entry " << entry
              << " over; it records the end, this worker records nothing\n";
  else if (r.str == "fenced")
    std::cerr << "qkvd: job " << job.id() << ": its end was already recorded by another worker; "
              << "acked only\n";
}

std::vector<std::string> RedisSource::entry_args(const std::string& entry) const {
  std::vector<std::string> out;
  if (auto it = held_.find(entry); it != held_.end())
    for (auto& [k, v] : it->second.fields) out.insert(out.end(), {k, v});
  return out;
}

void RedisSource::requeue(const std::string& entry) {
  std::vector<std::string> argv{"EVAL",         scripts::kRequeue, "1",  options_.stream,
                                options_.group, options_.consumer, entry};
  {
    std::lock_guard lock(mutex_);
    auto rest = entry_args(entry);
    if (rest.empty()) return;  // not ours any more
    argv.insert(argv.end(), rest.begin(), rest.end());
    held_.erase(entry);
  }
  // Unreachable Redis: the entry stays pending and is taken over after claim_idle_seconds.
  try {
    call(argv);
  } catch (const std::exception& e) {
    std::cerr << "qkvd: redis entry " << entry << ": giving it back failed (" << e.what()
              << "); another worker takes it over after " << options_.claim_idle.count() << " s\n";
  }
}

void RedisSource::give_back_unstarted() {
  std::vector<std::string> waiting;
  {
    std::lock_guard lock(mutex_);
    for (auto& [entry, e] : held_)
      if (!e.running) waiting.push_back(entry);
  }
  for (auto& entry : waiting) requeue(entry);
}

void RedisSource::heartbeat_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, options_.heartbeat, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    heartbeat_once();
    stop_cancelled_shards();
    refresh_figures();
    lock.lock();
  }
}

void RedisSource::heartbeat_once() {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mutex_);
    for (auto& [entry, e] : held_) ids.push_back(entry);
  }
  if (ids.empty()) return;
  std::vector<std::string> argv{"EVAL",          scripts::kHeartbeat, "1",
                                options_.stream, options_.group,      options_.consumer};
  argv.insert(argv.end(), ids.begin(), ids.end());
  Reply r;
  try {
    r = call(argv);
  } catch (const ConnectionError& e) {
    note_problem(e.what());
    return;
  } catch (const ReplyError& e) {
    note_problem(std::string("the heartbeat script failed: ") + e.what());
    return;
  }
  std::vector<std::shared_ptr<JobRecord>> lost;
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < ids.size() && i < r.elements.size(); ++i) {
      if (r.elements[i].integer == 1) continue;
      auto it = held_.find(ids[i]);
      if (it == held_.end()) continue;
      if (auto job = it->second.job.lock()) lost.push_back(job);
      held_.erase(it);
      ++counts_.lost;
    }
  }
  // Stopped at the next chunk boundary; its AtomicFiles remove their temporaries
  // (io/atomic_file.hpp) and its end script records nothing (scripts::kEnd: "lost").
  for (auto& job : lost) {
    std::cerr << "qkvd: job " << job->id()
              << ": another worker took its redis entry over; stopping it here\n";
    job->request_cancel(std::string(code::lease_lost));
  }
}

void RedisSource::stop_cancelled_shards() {
  std::map<std::string, std::vector<std::weak_ptr<JobRecord>>> by_parent;
  {
    std::lock_guard lock(mutex_);
    for (auto& [entry, e] : held_)
      if (auto parent = field_or(e.fields, "parent"); !parent.empty())
        by_parent[parent].push_back(e.job);
  }
  for (auto& [parent, jobs] : by_parent) {
    try {
      if (call({"EXISTS", cancel_key(parent)}).integer != 1) continue;
    } catch (const std::exception&) {
      return;  // the heartbeat reported it; looked at again next time
    }
    // Stopped at the next chunk boundary (or before it starts); its end is "cancelled".
    for (auto& weak : jobs)
      if (auto job = weak.lock()) job->request_cancel(std::string(code::cancelled));
  }
}

bool RedisSource::cancel_parent(const std::string& id) {
  try {
    if (call({"EXISTS", parent_key(id)}).integer != 1) return false;
    call({"SET", cancel_key(id), "1", "EX",
          std::to_string(static_cast<long long>(options_.results_days * 86400) + 1)});
  } catch (const ConnectionError& e) {
    note_problem(e.what());
    throw JobError(code::queue_unavailable, std::string("the job was not cancelled: ") + e.what());
  }
  std::lock_guard lock(mutex_);
  for (auto& [entry, e] : held_)
    if (field_or(e.fields, "parent") == id)
      if (auto job = e.job.lock()) job->request_cancel(std::string(code::cancelled));
  return true;
}

static long long epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Submitted RedisSource::submitted(const Reply& r, const RequestKey& rk, bool entry_id) const {
  if (r.elements.size() < 2) throw JobError("internal", "Redis gave an unexpected submit reply");
  const std::string& v = r.elements[0].str;
  if (r.elements[1].integer == 0) return {entry_id ? job_id_of(v) : v, false};
  // A request_id seen before: "<job id> <body sha256>".
  const auto space = v.find(' ');
  const std::string id = v.substr(0, space);
  if (space == std::string::npos || v.substr(space + 1) != rk.body_sha256)
    throw JobError(code::bad_request, "field 'request_id': '" + rk.id +
                                          "' was already used for job " + id +
                                          " with another request body");
  return {id, true};
}

void RedisSource::keep_record(nlohmann::json record, const RequestKey& rk, long long submit_ms) {
  if (!records_) return;
  record["submit_ms"] = submit_ms;
  if (!rk.key.empty())
    record["request"] = {{"owner", rk.owner}, {"id", rk.id}, {"body_sha256", rk.body_sha256}};
  try {
    records_->put(record);
  } catch (const std::exception& e) {
    // Queued already: only this worker's fallback (Redis losing the parent) is missing.
    std::cerr << "qkvd: warning: job " << record.value("id", "") << ": cannot keep its record ("
              << e.what() << "); its status comes from Redis only\n";
  }
}

Submitted RedisSource::submit_sharded(const nlohmann::json& request, const Submitter& who,
                                      const pipeline::JobSpec& spec, unsigned shards,
                                      const RequestKey& rk) {
  if (!hooks_.plan)
    throw JobError(code::bad_request, "field 'shards': this worker cannot plan shards");
  const std::string parent = "redis-p" + new_job_id();
  auto files = hooks_.plan(request, who, spec, shards, parent);
  const std::string sha = hooks_.pipeline_sha256 ? hooks_.pipeline_sha256(spec) : "";
  nlohmann::json meta = {{"id", parent},
                         {"queue", "redis"},
                         {"pipeline", spec.pipeline},
                         {"inputs", spec.inputs},
                         {"output", spec.output},
                         {"shards", shards},
                         {"pipeline_sha256", sha},
                         {"submitted_by", protocol::submitted_by(who)},
                         {"submitted_at", iso_time(Clock::now())}};
  const long long submit_ms = epoch_ms();
  std::vector<std::string> argv{
      "EVAL",
      scripts::kSubmitShards,
      "4",
      options_.stream,
      parent_key(parent),
      parents_,
      rk.key,
      std::to_string(static_cast<long long>(options_.results_days * 86400) + 1),
      meta.dump(),
      std::to_string(shards),
      std::to_string(submit_ms),
      parent,
      sha,
      rk.body_sha256};
  for (auto& f : files) {
    argv.push_back(f.dump());
    // The shard's first document in the whole job (jobs/shard_plan.hpp), also as a field.
    argv.push_back(std::to_string(
        f.value("slice", nlohmann::json::object()).value("first_document", uint64_t{0})));
  }
  Submitted done;
  try {
    ensure_group();
    done = submitted(call(argv), rk, false);
  } catch (const ConnectionError& e) {
    note_problem(e.what());
    throw JobError(code::queue_unavailable, std::string("the job was not queued: ") + e.what());
  }
  if (done.repeated) return done;
  keep_record(std::move(meta), rk, submit_ms);
  return done;
}

Submitted RedisSource::submit(const nlohmann::json& request, const Submitter& who) {
  auto spec = checked_spec_(request);  // throws JobError naming the field
  RequestKey rk;
  if (const std::string* rid = request_id_of(request)) {
    rk.owner = request_owner(who);
    rk.id = *rid;
    rk.body_sha256 = request_body_sha256(request);
    rk.key = options_.stream + ":request:" + rk.owner + ":" + rk.id;
    // Kept here even when Redis lost the key.
    if (records_)
      if (auto r = records_->by_request(rk.owner, rk.id)) {
        const std::string id = r->value("id", "");
        if (r->value("/request/body_sha256"_json_pointer, std::string()) != rk.body_sha256)
          throw JobError(code::bad_request, "field 'request_id': '" + rk.id +
                                                "' was already used for job " + id +
                                                " with another request body");
        return {id, true};
      }
  }
  if (unsigned shards = requested_shards(request))
    return submit_sharded(request, who, spec, shards, rk);
  nlohmann::json file = request;
  for (const char* k : {"v", "tag", "queue", "request_id"}) file.erase(k);
  file["op"] = "submit";
  file["submitted_by"] = protocol::submitted_by(who);
  const long long submit_ms = epoch_ms();
  Submitted done;
  try {
    ensure_group();
    done =
        submitted(call({"EVAL", scripts::kSubmit, "2", options_.stream, rk.key,
                        std::to_string(static_cast<long long>(options_.results_days * 86400) + 1),
                        rk.body_sha256, "job", file.dump()}),
                  rk, true);
  } catch (const ConnectionError& e) {
    note_problem(e.what());
    throw JobError(code::queue_unavailable, std::string("the job was not queued: ") + e.what());
  }
  if (!done.repeated && !rk.key.empty())
    keep_record({{"id", done.id},
                 {"queue", "redis"},
                 {"pipeline", spec.pipeline},
                 {"inputs", spec.inputs},
                 {"output", spec.output},
                 {"submitted_by", protocol::submitted_by(who)},
                 {"submitted_at", iso_time(Clock::now())}},
                rk, submit_ms);
  return done;
}

std::optional<nlohmann::json> RedisSource::lookup(const std::string& id) {
  if (!is_redis_id(id)) return std::nullopt;
  const std::string entry = id.substr(6);
  try {
    if (is_parent_id(id)) return lookup_parent(id);
    if (id.substr(0, 7) == "redis-p") return lookup_shard(id);
    if (Reply end = call({"GET", options_.stream + ":end:" + entry}); !end.is_nil()) {
      try {
        return nlohmann::json::parse(end.str);
      } catch (const nlohmann::json::exception&) {
        return nlohmann::json{{"id", id}, {"state", "done"}, {"queue", "redis"}};
      }
    }
    nlohmann::json view{{"id", id}, {"queue", "redis"}};
    Reply entries = call({"XRANGE", options_.stream, entry, entry});
    if (entries.elements.empty()) return std::nullopt;
    if (entries.elements[0].elements.size() >= 2)
      if (const Reply* job = entries.elements[0].elements[1].field("job")) try {
          auto file = nlohmann::json::parse(job->str);
          for (const char* k : {"pipeline", "inputs", "output", "submitted_by"})
            if (file.contains(k)) view[k] = file[k];
        } catch (const nlohmann::json::exception&) {
          // A bad entry: its end (failed, bad_json) comes with the first worker that takes it.
        }
    view["state"] = "queued";
    try {
      Reply p = call({"XPENDING", options_.stream, options_.group, entry, entry, "1"});
      // Taken by a worker: queued there or running (its own `status` tells which).
      if (!p.elements.empty() && p.elements[0].elements.size() >= 2) {
        view["state"] = "running";
        view["worker"] = p.elements[0].elements[1].str;
      }
    } catch (const ReplyError&) {
      // No group yet: nobody took it.
    }
    return view;
  } catch (const ConnectionError& e) {
    note_problem(e.what());
    throw JobError(code::queue_unavailable, std::string("cannot look the job up: ") + e.what());
  }
}

std::map<unsigned, std::string> RedisSource::ends_from_streams(const std::string& parent,
                                                               long long since_ms) {
  std::map<unsigned, std::string> ends;
  // Result entries (and dead letters) are added after the submit: their ids start at its time.
  for (const std::string& key : {results_, dead_}) {
    std::string from = std::to_string(std::max(0LL, since_ms - 1000));
    for (;;) {
      Reply r = call({"XRANGE", key, from, "+", "COUNT", "1000"});
      for (auto& e : r.elements) {
        if (e.elements.size() < 2) continue;
        auto f = pairs_of(e.elements[1]);
        if (field_or(f, "parent") != parent) continue;
        try {
          // One end per shard (the end script's fence); a dead letter ends its shard failed.
          ends.emplace(static_cast<unsigned>(std::stoul(field_or(f, "shard"))),
                       key == dead_ ? std::string("failed") : field_or(f, "state"));
        } catch (const std::exception&) {
        }
      }
      if (r.elements.size() < 1000) break;
      from = "(" + r.elements.back().elements[0].str;
    }
  }
  return ends;
}

std::optional<nlohmann::json> RedisSource::lookup_parent(const std::string& id) {
  Reply h = call({"HGETALL", parent_key(id)});
  nlohmann::json view;
  unsigned shards = 0;
  std::map<std::string, unsigned> ends;  // state -> shards that ended so
  unsigned ended = 0;
  if (!h.elements.empty()) {
    std::map<std::string, std::string> f;
    for (auto& [k, v] : pairs_of(h)) f[k] = v;
    view = nlohmann::json::parse(f["meta"], nullptr, false);
    try {
      shards = static_cast<unsigned>(std::stoul(f["shards"]));
    } catch (const std::exception&) {
    }
    for (auto& [k, v] : f)
      if (k.rfind("s:", 0) == 0) ++ends[v], ++ended;
  } else if (auto kept = records_ ? records_->get(id) : std::nullopt) {
    // Redis lost the parent's hash (its TTL, a FLUSH); this worker accepted it: the shards'
    // ends come from <stream>:results and <stream>:dead.
    view = *kept;
    view.erase("request");
    view.erase("submit_ms");
    shards = kept->value("shards", 0u);
    for (auto& [shard, state] : ends_from_streams(id, kept->value("submit_ms", 0LL)))
      if (shard < shards) ++ends[state], ++ended;
  } else {
    return std::nullopt;
  }
  if (!view.is_object()) view = nlohmann::json::object();
  view["id"] = id;
  view["queue"] = "redis";
  const bool cancelling = call({"EXISTS", cancel_key(id)}).integer == 1;
  // Done only when every shard is; any failed (or dead-lettered) shard fails the parent.
  std::string state = "running";
  if (ended == shards && shards > 0)
    state = ends["failed"] ? "failed" : ends["cancelled"] ? "cancelled" : "done";
  else if (cancelling)
    state = "cancelling";
  view["state"] = state;
  view["shards"] = shards;
  view["shards_ended"] = {{"done", ends["done"]},
                          {"failed", ends["failed"]},
                          {"cancelled", ends["cancelled"]},
                          {"not_ended", shards - std::min(shards, ended)}};
  if (state == "done" && hooks_.finish_parent) {
    // Any worker that sees every shard ended and no parent manifest writes it (idempotent).
    const std::string output = view.value("output", "");
    if (!output.empty() && hooks_.finish_parent(ShardOf{id, 0, shards, output}))
      view["manifest"] = parent_manifest(output).string();
  }
  return view;
}

std::optional<nlohmann::json> RedisSource::lookup_shard(const std::string& id) {
  const auto dot = id.rfind(".s");
  if (dot == std::string::npos) return std::nullopt;
  const std::string parent = id.substr(0, dot), key = parent_key(parent);
  const std::string shard = std::to_string(std::strtoul(id.c_str() + dot + 2, nullptr, 10));
  if (Reply v = call({"HGET", key, "v:" + shard}); !v.is_nil()) {
    auto view = nlohmann::json::parse(v.str, nullptr, false);
    if (view.is_object()) return view;
  }
  Reply meta = call({"HGET", key, "meta"});
  if (meta.is_nil()) return std::nullopt;
  nlohmann::json view = {{"id", id}, {"queue", "redis"}, {"parent", parent}, {"state", "queued"}};
  auto m = nlohmann::json::parse(meta.str, nullptr, false);
  if (m.is_object() && m.contains("submitted_by")) view["submitted_by"] = m["submitted_by"];
  return view;
}

std::vector<nlohmann::json> RedisSource::list_parents(std::size_t limit) {
  std::vector<nlohmann::json> out;
  if (limit == 0) return out;
  try {
    // Redis's list and this worker's records (parents whose hash Redis lost), newest first.
    std::vector<std::pair<long long, std::string>> ids;
    Reply listed = call({"ZREVRANGE", parents_, "0", std::to_string(limit - 1), "WITHSCORES"});
    for (std::size_t i = 0; i + 1 < listed.elements.size(); i += 2)
      ids.emplace_back(std::atoll(listed.elements[i + 1].str.c_str()), listed.elements[i].str);
    if (records_)
      for (auto& id : records_->newest_parents(limit))
        if (std::none_of(ids.begin(), ids.end(), [&](auto& p) { return p.second == id; }))
          ids.emplace_back(
              records_->get(id).value_or(nlohmann::json::object()).value("submit_ms", 0LL), id);
    std::sort(ids.rbegin(), ids.rend());
    for (auto& [ms, id] : ids) {
      if (out.size() >= limit) break;
      if (auto view = lookup_parent(id))
        out.push_back(std::move(*view));
      else
        call({"ZREM", parents_, id});  // its hash expired (retention)
    }
  } catch (const ConnectionError& e) {
    note_problem(e.what());
    throw JobError(code::queue_unavailable, std::string("cannot list its jobs: ") + e.what());
  }
  return out;
}

void RedisSource::maintain() {
  try {
    auto keep_ms = static_cast<long long>(options_.results_days * 86400 * 1000);
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    call({"XTRIM", results_, "MINID", std::to_string(now_ms - keep_ms)});
    call({"ZREMRANGEBYSCORE", parents_, "-inf", std::to_string(now_ms - keep_ms)});
    if (records_) records_->prune(now_ms - keep_ms);
    // Consumers of dead processes (hostname-pid names) stay in the group until removed; one
    // with nothing pending and idle for long is gone for good.
    Reply consumers = call({"XINFO", "CONSUMERS", options_.stream, options_.group});
    for (auto& c : consumers.elements) {
      const Reply* name = c.field("name");
      const Reply* pending = c.field("pending");
      const Reply* idle = c.field("idle");
      if (!name || !pending || !idle || name->str == options_.consumer) continue;
      if (pending->integer == 0 && idle->integer > options_.claim_idle.count() * 1000 * 10)
        call({"XGROUP", "DELCONSUMER", options_.stream, options_.group, name->str});
    }
  } catch (const ConnectionError& e) {
    note_problem(e.what());
  } catch (const ReplyError&) {
    // No group yet (nothing was ever taken): nothing to clean.
  }
}

Figures RedisSource::figures() const {
  std::lock_guard lock(mutex_);
  Figures f = counts_;
  f.pending = remote_.pending;
  f.lag = remote_.lag;
  f.dead = remote_.dead;
  return f;
}

void RedisSource::refresh_figures() {
  Figures f;
  try {
    Reply p = call({"XPENDING", options_.stream, options_.group});
    if (!p.elements.empty()) f.pending = static_cast<uint64_t>(p.elements[0].integer);
    Reply groups = call({"XINFO", "GROUPS", options_.stream});
    for (auto& g : groups.elements)
      if (const Reply* name = g.field("name"); name && name->str == options_.group)
        if (const Reply* lag = g.field("lag"); lag && lag->type == Reply::Type::integer)
          f.lag = lag->integer;
    f.dead = static_cast<uint64_t>(call({"XLEN", dead_}).integer);
  } catch (const std::exception&) {
    return;  // unreachable or no group yet: the last figures stay
  }
  std::lock_guard lock(mutex_);
  remote_ = f;
}

}  // namespace qkv::jobs::redis
