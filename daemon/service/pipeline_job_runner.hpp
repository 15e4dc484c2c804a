// The daemon's JobRunner: the pipeline runner (run_job) over one plugin registry, in the
// executor's shared arena, with tokenizers cached per pipeline so inline runs do not
// re-create plugin instances. One instance per reload generation.
#pragma once

#include <filesystem>
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
  PipelineJobRunner(config::DaemonConfig config,
                    std::shared_ptr<const host::PluginRegistry> plugins, jobs::Executor& executor);

  // Maps the runner's exceptions onto protocol error codes (docs/protocol.md):
  // pipeline_error (pipeline file or override), plugin_error, job_failed, cancelled.
  JobResult run(const JobSpec& spec, JobProgress& progress, CancelFlag& cancel) override;
  void validate(const JobSpec& spec) override;

 private:
  std::shared_ptr<const Tokenizer> tokenizer_for(const config::PipelineConfig& p);
  // Inline runs of tokenize-only pipelines reuse the parsed pipeline while its file is
  // unchanged (parsing YAML would dominate a short run); everything else parses per job.
  config::PipelineConfig pipeline_for(const JobSpec& spec);

  struct CachedPipeline {
    std::filesystem::file_time_type mtime;
    std::uintmax_t size = 0;
    config::PipelineConfig config;
    std::shared_ptr<const std::string> tokenizer_key;
  };
  std::mutex pipelines_mutex_;
  std::map<std::string, CachedPipeline> pipelines_;  // by pipeline name + overrides

  config::DaemonConfig config_;
  std::shared_ptr<const host::PluginRegistry> plugins_;
  RunEnvironment env_;
  std::mutex cache_mutex_;
  std::map<std::string, std::shared_ptr<const Tokenizer>> tokenizers_;
};

}  // namespace qkv::service
