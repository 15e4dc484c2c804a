// The daemon's JobRunner: the pipeline runner (run_job) over one plugin registry, in the
// executor's shared arena, with tokenizers cached per pipeline so inline runs do not
// re-create plugin instances. One instance per reload generation.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "config/daemon_config.hpp"
#include "host/plugin_registry.hpp"
#include "jobs/executor.hpp"
#include "jobs/job_runner.hpp"
#include "pipeline/runner.hpp"

namespace qkv::service {

class PipelineJobRunner final : public jobs::JobRunner {
 public:
  PipelineJobRunner(config::DaemonConfig config, std::shared_ptr<const host::PluginRegistry> plugins,
                    jobs::Executor& executor);

  // Maps the runner's exceptions onto protocol error codes (docs/protocol.md):
  // pipeline_error (pipeline file or override), plugin_error, job_failed, cancelled.
  JobResult run(const JobSpec& spec, JobProgress& progress, CancelFlag& cancel) override;
  void validate(const JobSpec& spec) override;

 private:
  std::shared_ptr<const Tokenizer> tokenizer_for(const config::PipelineConfig& p);

  config::DaemonConfig config_;
  std::shared_ptr<const host::PluginRegistry> plugins_;
  RunEnvironment env_;
  std::mutex cache_mutex_;
  std::map<std::string, std::shared_ptr<const Tokenizer>> tokenizers_;
};

}  // namespace qkv::service
