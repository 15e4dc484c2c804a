// A Redis Streams consumer group as a job source (docs/scale-out.md): entries carry the spool
// job-file JSON in field `job`; the scheduler sees JobRecords like the spool's. Takes entries
// only while the queue has room, keeps them with a heartbeat, takes over the idle entries of
// dead workers, dead-letters entries delivered too often and records each end exactly once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobs/job_record.hpp"
#include "jobs/job_source.hpp"
#include "jobs/redis/redis_client.hpp"
#include "jobs/redis/parent_records.hpp"
#include "jobs/redis/redis_options.hpp"
#include "jobs/shard_plan.hpp"
#include "jobs/spool_source.hpp"

namespace qkv::jobs::redis {

// Source figures for `stats` (RedisSource::figures).
struct Figures {
  uint64_t pending = 0;  // entries delivered to some worker and not yet acked
  int64_t lag = -1;      // entries not yet delivered to the group (-1: unknown)
  uint64_t dead = 0;     // entries in <stream>:dead
  uint64_t taken = 0, recorded = 0, lost = 0, dead_lettered = 0;  // by this worker
  uint64_t reconnects = 0;  // times this worker reached Redis again after losing it
};

// What the Redis source borrows from the rest of the daemon for sharded jobs (the planner and
// the parent manifest writer are the local spool's: jobs/spool_source.hpp).
struct ShardHooks {
  // The job files of the shards (SpoolSource::shard_files). Throws JobError.
  std::function<std::vector<nlohmann::json>(const nlohmann::json& request, const Submitter& who,
                                            const pipeline::JobSpec& spec, unsigned shards,
                                            const std::string& parent)>
      plan;
  // Writes the parent manifest when every shard is done (SpoolSource::finish_parent_of);
  // true when it exists afterwards. Never throws.
  std::function<bool(const ShardOf&)> finish_parent;
  // The sha256 of the pipeline file a spec names, on this worker (JobRunner::pipeline_sha256).
  std::function<std::string(const pipeline::JobSpec&)> pipeline_sha256;
};

class RedisSource final : public JobSource {
 public:
  // `checked_spec` turns a job-file JSON into a spec the path policy allows (throws JobError).
  // Throws std::invalid_argument for a bad url.
  RedisSource(Options options,
              std::function<pipeline::JobSpec(const nlohmann::json&)> checked_spec);
  ~RedisSource() override;
  RedisSource(const RedisSource&) = delete;
  RedisSource& operator=(const RedisSource&) = delete;

  // Called once before serving; without it a submit with `shards` is refused.
  void set_shard_hooks(ShardHooks hooks) { hooks_ = std::move(hooks); }
  // Called once before serving: whether this worker may take one more entry now (its job slots
  // and `prefetch`, asked before each one); unset: while the queue has room.
  void set_wants_more(std::function<bool()> wants_more) { wants_more_ = std::move(wants_more); }
  // Called once before serving: this worker's records of the submits it accepted (parents, and
  // jobs with a request_id) go to `folder` (<spool>/redis). Throws IoError.
  void keep_records_in(const std::filesystem::path& folder) {
    records_ = std::make_unique<ParentRecords>(folder);
  }

  std::string_view name() const override { return "redis"; }
  std::size_t poll(JobSink& sink) override;
  void maintain() override;

  // A socket submit with "queue": "redis": checks the request as the spool does, then adds
  // the entry (submitted_by = `who`, proven by this worker). Returns the job id once XADD
  // returned; with a `request_id` already used by this submitter (in Redis, or in this worker's
  // records) the first job, `repeated`, and nothing is added. Throws JobError (bad_request,
  // path_denied..., queue_unavailable when Redis is down).
  Submitted submit(const nlohmann::json& request, const Submitter& who);
  // The job view of a Redis job id ("redis-<entry>") from Redis: ended (the end fence holds
  // its view), taken by a worker, or waiting in the stream; nullopt when Redis knows none.
  // Throws JobError(queue_unavailable) when Redis cannot be reached.
  std::optional<nlohmann::json> lookup(const std::string& id);
  static bool is_redis_id(std::string_view id) { return id.substr(0, 6) == "redis-"; }
  // A sharded job's parent ("redis-p<spool-style id>"; entry ids are digits).
  static bool is_parent_id(std::string_view id) {
    return id.substr(0, 7) == "redis-p" && id.find(".s") == std::string_view::npos;
  }
  // `cancel` of a parent: sets <stream>:cancel:<id> (workers stop its shards at their next
  // heartbeat, queued entries end cancelled when taken) and stops the shards held here at
  // once. False when Redis knows no such parent. Throws JobError(queue_unavailable).
  bool cancel_parent(const std::string& id);
  // The latest parents (newest first, at most `limit`) as `status` shows them.
  std::vector<nlohmann::json> list_parents(std::size_t limit);

  // Why the source does not work right now (Redis unreachable...), for `health`; nullopt when fine.
  std::optional<std::string> problem() const;
  // This worker's counters and the stream's figures as of the last heartbeat (no Redis call).
  Figures figures() const;
  const std::string& consumer() const noexcept { return options_.consumer; }
  // Gives every entry taken but not started back to the group (called after the scheduler
  // drained: its queued jobs were never claimed).
  void give_back_unstarted();

  // Lease bookkeeping (RedisLease, redis_source.cpp).
  struct Held;
  bool started(const std::string& entry);
  void record_end(const std::string& entry, const JobRecord& job, const JobOutcome& outcome);
  void requeue(const std::string& entry);

 private:
  // Runs a command on the shared connection; a broken connection becomes problem() and a backoff.
  Reply call(const std::vector<std::string>& argv);
  void ensure_group();
  // An entry XAUTOCLAIM gave: dead-lettered when delivered too often (false), else offered
  // with `slot` (true: the slot is used).
  bool take_over(JobSink& sink, QueueSlot& slot, const Reply& entry);
  void offer(JobSink& sink, QueueSlot slot, const std::string& entry, const Reply& fields,
             long long deliveries);
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  // Ends an entry that never ran (bad entry: failed; a cancelled parent's shard: cancelled).
  void end_unrun(const std::string& entry, const Pairs& pairs, const std::string& code,
                 const std::string& message, const char* state = "failed");
  // Moves an entry this worker holds to <stream>:dead with `reason`.
  void dead_letter(const std::string& entry, const Pairs& pairs, const std::string& reason);
  // Runs scripts::kEnd for `entry` (its fields `pairs`) with the job `view` and flat result
  // `fields`; on "recorded-last" writes the parent manifest.
  Reply end_entry(const std::string& entry, const Pairs& pairs, const nlohmann::json& view,
                  const Pairs& fields);
  // `request`: the request key's argument ("" without a request_id) and the body's sha256.
  struct RequestKey {
    std::string key, owner, id, body_sha256;
  };
  Submitted submit_sharded(const nlohmann::json& request, const Submitter& who,
                           const pipeline::JobSpec& spec, unsigned shards, const RequestKey& rk);
  // The answer of a submit script: {id, 0} new, or {"<id> <sha>", 1} a request_id seen before.
  Submitted submitted(const Reply& r, const RequestKey& rk, bool entry_id) const;
  // Stores this worker's record of an accepted submit (never throws: logged).
  void keep_record(nlohmann::json record, const RequestKey& rk, long long submit_ms);
  // The shard ends of `parent` as <stream>:results and <stream>:dead tell them (its hash is
  // gone): shard -> state.
  std::map<unsigned, std::string> ends_from_streams(const std::string& parent, long long since_ms);
  std::optional<nlohmann::json> lookup_parent(const std::string& id);
  std::optional<nlohmann::json> lookup_shard(const std::string& id);
  std::string parent_key(const std::string& parent) const;
  std::string cancel_key(const std::string& parent) const;
  void stop_cancelled_shards();  // heartbeat thread: shards held here of cancelled parents
  void heartbeat_loop();
  void heartbeat_once();
  void refresh_figures();  // the stream's figures into figures_ (heartbeat thread)
  void note_problem(const std::string& what);
  std::vector<std::string> entry_args(const std::string& entry) const;  // held_ mutex held

  Options options_;
  std::function<pipeline::JobSpec(const nlohmann::json&)> checked_spec_;
  ShardHooks hooks_;
  std::function<bool()> wants_more_;
  std::unique_ptr<ParentRecords> records_;
  std::string results_, dead_, parents_;

  std::mutex redis_mutex_;  // one command at a time on the connection
  Client client_;
  bool group_ready_ = false;
  std::string autoclaim_cursor_ = "0-0";

  mutable std::mutex mutex_;
  // Entries this worker holds: taken (queued here) or running.
  struct Entry {
    std::vector<std::pair<std::string, std::string>> fields;
    std::weak_ptr<JobRecord> job;
    bool running = false;
  };
  std::map<std::string, Entry> held_;
  std::optional<std::string> problem_;
  std::chrono::steady_clock::time_point retry_at_{};
  std::chrono::milliseconds backoff_{0};
  Figures counts_;
  Figures remote_;  // pending, lag, dead as of the last refresh

  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread heartbeat_;
};

// The job id of an entry: "redis-" + the stream entry id (valid for jobs/spool.hpp's rules).
std::string job_id_of(const std::string& entry);

}  // namespace qkv::jobs::redis
