// What the scheduler calls to execute a job. The daemon adapts pipeline runs
// (pipeline::run_job, daemon/pipeline/run_job.hpp) to it; tests plug in fakes. Implementations
// are thread-safe: several jobs run at once.
#pragma once

#include <string>

#include "io/inputs.hpp"
#include "pipeline/job.hpp"

namespace qkv::jobs {

class JobRunner {
 public:
  virtual ~JobRunner() = default;
  // Runs to completion, or returns/throws early once `cancel` is set. Throws on failure
  // (JobError for a known code, any std::exception otherwise).
  virtual pipeline::JobResult run(const pipeline::JobSpec& spec, pipeline::JobProgress& progress,
                                  pipeline::CancelFlag& cancel) = 0;
  // Checks what can be checked before queueing (pipeline exists, overrides apply); throws.
  virtual void validate(const pipeline::JobSpec& spec) { (void)spec; }
  // The sha256 of the pipeline file the job names, as this runner would load it ("" when it
  // has none): shard entries carry the submitter's, so a worker with another file refuses them.
  virtual std::string pipeline_sha256(const pipeline::JobSpec& spec) {
    (void)spec;
    return "";
  }
  // How the job's pipeline cuts its inputs into documents, so the shard planner counts them as
  // the job will (jobs/shard_plan.hpp). Throws JobError when the pipeline does not load.
  virtual io::Framing input_framing(const pipeline::JobSpec& spec) {
    (void)spec;
    return {};
  }
};

}  // namespace qkv::jobs
