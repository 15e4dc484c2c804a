// The daemon's JobRunner: pipeline runs (pipeline::run_job) over one plugin registry, in the
// executor's shared arena, with one StageCache so jobs share tokenizer instances and model
// stages, and parsed pipelines reused by inline runs. One instance per reload generation.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
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

  // The pipeline file and its folder as stat(2) gave them when the file was checked and
  // parsed. Every edit, replacement, chmod or chown moves a ctime, so an equal stamp means the
  // trust check and the parse still hold: two stats per inline run instead of five.
  struct FileStamp {
    dev_t dev = 0;
    ino_t ino = 0;
    mode_t mode = 0;
    off_t size = 0;
    timespec mtime{}, ctime{};
    bool operator==(const FileStamp& o) const noexcept;
  };
  struct PipelineStamp {
    std::filesystem::path file;
    FileStamp of_file, of_folder;
    bool operator==(const PipelineStamp&) const = default;
  };
  // The stamp of the pipeline file `spec` names; empty when the file or its folder cannot be
  // stat'ed (the loader then explains).
  std::optional<PipelineStamp> stamp_of(const pipeline::JobSpec& spec) const;
  struct CachedPipeline {
    PipelineStamp stamp;
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
