// The spool as a job source: hand-dropped files in incoming/ and socket submits (written into
// incoming/, fsynced, before the client hears "accepted"). Hands the scheduler JobRecords
// whose lease moves the file through active/ into done/ or failed/.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "io/inputs.hpp"
#include "io/path_policy.hpp"
#include "jobs/job_record.hpp"
#include "jobs/job_source.hpp"
#include "jobs/spool.hpp"

namespace qkv::jobs {

struct ShardOf;  // jobs/shard_plan.hpp

// What a socket submit gave: the job's id, and whether it is an earlier job given back for a
// repeated request_id.
struct Submitted {
  std::string id;
  bool repeated = false;
};

class SpoolSource final : public JobSource {
 public:
  // `validate` checks a parsed spec before it is accepted (pipeline exists); throws JobError.
  SpoolSource(Spool& spool, std::function<const io::PathPolicy&()> policy,
              std::function<std::string()> default_pipeline,
              std::function<void(const pipeline::JobSpec&)> validate);

  std::string_view name() const override { return "spool"; }
  void recover(const std::vector<crash::Record>& crashes) override;
  std::size_t poll(JobSink& sink) override;
  void maintain() override;

  // A socket submit: checks the request, takes a queue place, writes the job file durably,
  // enqueues it. With a `request_id` the submitter already used for a job still kept, returns
  // that job instead (same body) or throws bad_request (another body). Throws JobError
  // (bad_request, path_denied, queue_full...).
  Submitted submit(const nlohmann::json& request, const Submitter& who, JobSink& sink);

  Spool& spool() noexcept { return spool_; }
  // How a spec's pipeline frames its inputs (JobRunner::input_framing), for the shard planner's
  // document counts; unset: by extension, one document per .txt line. Set before serving.
  void set_framing(std::function<io::Framing(const pipeline::JobSpec&)> framing) {
    framing_ = std::move(framing);
  }

  // A job file's spec as every source checks it: job fields, path policy, pipeline exists.
  // Throws JobError. (The Redis source, jobs/redis/, checks its entries with it too.)
  pipeline::JobSpec checked_spec(const nlohmann::json& request) const;

  // The job files of the `shards` shards of `request` (checked as `spec`), parent `parent`:
  // planned with jobs/shard_plan.hpp over the inputs opened through the path policy. Shared by
  // the local spool and the Redis source (jobs/redis/). Throws JobError.
  std::vector<nlohmann::json> shard_files(const nlohmann::json& request, const Submitter& who,
                                          const pipeline::JobSpec& spec, unsigned shards,
                                          const std::string& parent) const;
  // After a shard ended done: writes the parent manifest once every shard is done (the output
  // folder opened through the path policy). True when it exists afterwards; never throws (a
  // failure is logged: the shard's end is recorded already).
  bool finish_parent_of(const ShardOf& s) const;

 private:
  // A submit with `shards`: one job file per shard in incoming/ (jobs/shard_plan.hpp); returns
  // the parent's id. mutex_ held.
  Submitted submit_sharded(const nlohmann::json& request, const Submitter& who,
                           const pipeline::JobSpec& spec, unsigned shards);
  // Reads one incoming file into a record, or fails it into failed/ (returns nullptr).
  std::shared_ptr<JobRecord> load(const Spool::Waiting& w);
  void fail_unclaimed(const std::string& name, const std::string& id, const std::string& code,
                      const std::string& message, uid_t owner);

  // Idempotent submits: (submitter, request_id) -> the job and the sha256 of its body. Rebuilt
  // from the job files at recover(); an entry counts only while its job is kept.
  struct Remembered {
    std::string id, body_sha256;
  };
  std::map<std::pair<std::string, std::string>, Remembered> requests_;

  Spool& spool_;
  std::function<const io::PathPolicy&()> policy_;
  std::function<std::string()> default_pipeline_;
  std::function<void(const pipeline::JobSpec&)> validate_;
  std::function<io::Framing(const pipeline::JobSpec&)> framing_;
  std::mutex mutex_;               // one reader of incoming/ at a time (poll vs submit)
  std::set<std::string> offered_;  // incoming names handed to the sink, not yet claimed
};

}  // namespace qkv::jobs
