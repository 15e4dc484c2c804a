// The spool as a job source: hand-dropped files in incoming/ and socket submits (written into
// incoming/, fsynced, before the client hears "accepted"). Hands the scheduler JobRecords
// whose lease moves the file through active/ into done/ or failed/.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "io/path_policy.hpp"
#include "jobs/job_record.hpp"
#include "jobs/job_source.hpp"
#include "jobs/spool.hpp"

namespace qkv::jobs {

class SpoolSource final : public JobSource {
 public:
  // `validate` checks a parsed spec before it is accepted (pipeline exists); throws JobError.
  SpoolSource(Spool& spool, std::function<const io::PathPolicy&()> policy,
              std::function<std::string()> default_pipeline,
              std::function<void(const pipeline::JobSpec&)> validate);

  std::string_view name() const override { return "spool"; }
  void recover() override;
  std::size_t poll(JobSink& sink) override;
  void maintain() override;

  // A socket submit: checks the request, takes a queue place, writes the job file durably,
  // enqueues it. Returns the new job. Throws JobError (bad_request, path_denied, queue_full...).
  std::shared_ptr<JobRecord> submit(const nlohmann::json& request, const Submitter& who,
                                    JobSink& sink);

  Spool& spool() noexcept { return spool_; }

 private:
  // Reads one incoming file into a record, or fails it into failed/ (returns nullptr).
  std::shared_ptr<JobRecord> load(const Spool::Waiting& w);
  void fail_unclaimed(const std::string& name, const std::string& id, const std::string& code,
                      const std::string& message, uid_t owner);
  pipeline::JobSpec checked_spec(const nlohmann::json& request) const;

  Spool& spool_;
  std::function<const io::PathPolicy&()> policy_;
  std::function<std::string()> default_pipeline_;
  std::function<void(const pipeline::JobSpec&)> validate_;
  std::mutex mutex_;               // one reader of incoming/ at a time (poll vs submit)
  std::set<std::string> offered_;  // incoming names handed to the sink, not yet claimed
};

}  // namespace qkv::jobs
