// The daemon's JobRunner: pipeline runs (pipeline::run_job) over one plugin registry, in the
// executor's shared arena, with one StageCache so jobs share tokenizer instances and model
// stages, and parsed pipelines reused by inline runs. One instance per reload generation.
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
#include "pipeline/run_job.hpp"

namespace qkv::service {

class PipelineJobRunner final : public jobs::JobRunner {
 public:
  // `models` builds model stages (empty: pipelines with `model:` fail with a clear message).
  PipelineJobRunner(config::DaemonConfig config,
                    std::shared_ptr<const host::PluginRegistry> plugins, jobs::Executor& executor,
                    pipeline::ModelStageFactory models = {});

  // Maps the runner's exceptions onto protocol error codes (docs/protocol.md):
  // pipeline_error (pipeline file or override), plugin_error, job_failed, cancelled, and the
  // path policy's (path_denied, not_found, output_exists...).
  pipeline::JobResult run(const pipeline::JobSpec& spec, pipeline::JobProgress& progress,
                          pipeline::CancelFlag& cancel) override;
  void validate(const pipeline::JobSpec& spec) override;
  std::string pipeline_sha256(const pipeline::JobSpec& spec) override;
  io::Framing input_framing(const pipeline::JobSpec& spec) override;

  // What this generation's jobs share (for tests and status).
  const pipeline::StageCache& cache() const { return *env_.cache; }

 private:
  // Inline runs reuse the parsed pipeline while its file is unchanged (parsing YAML would
  // dominate a short run); file jobs parse per job.
  config::PipelineConfig pipeline_for(const pipeline::JobSpec& spec);

  struct CachedPipeline {
    std::filesystem::file_time_type mtime;
    std::uintmax_t size = 0;
    config::PipelineConfig config;
  };
  std::mutex pipelines_mutex_;
  std::map<std::string, CachedPipeline> pipelines_;  // by pipeline name + overrides

  config::DaemonConfig config_;
  std::shared_ptr<const host::PluginRegistry> plugins_;
  io::PathPolicy paths_;  // the config's roots: where jobs open files, what clients may name
  pipeline::RunEnvironment env_;
};

}  // namespace qkv::service
