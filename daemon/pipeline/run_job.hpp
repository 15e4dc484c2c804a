// Pipeline runs: run_job executes one JobSpec (files or inline texts, encode or decode) with a
// oneTBB parallel_pipeline: serial in-order read -> parallel tokenize [-> model] -> serial
// in-order write. Memory stays bounded (a few chunks in flight per worker); output bytes do
// not depend on the thread count. Safe to call from many threads at once (one job each).
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "config/pipeline_config.hpp"
#include "io/inputs.hpp"
#include "io/path_policy.hpp"
#include "pipeline/job.hpp"
#include "pipeline/model_stage.hpp"
#include "pipeline/stage_cache.hpp"
#include "pipeline/tokenizer.hpp"

namespace qkv::host {
class PluginRegistry;
}
namespace qkv::config {
struct DaemonConfig;
}

namespace qkv::pipeline {

struct RunEnvironment {
  const config::DaemonConfig* daemon = nullptr;  // optional
  std::filesystem::path pipelines_dir;           // where pipeline names are looked up
  // How the job's files are opened, and (when restricted: the daemon's) which paths a client
  // may name: inputs, outputs, a pipeline by path, `set` paths. Null: unrestricted, no rules.
  const io::PathPolicy* paths = nullptr;
  const host::PluginRegistry* plugins = nullptr;  // tokenizer (and model) plugins
  oneapi::tbb::task_arena* arena = nullptr;       // shared arena; null: one per job
  unsigned threads = 0;                           // per-job arena size; 0 = all cores
  // Optional: share tokenizer instances and model stages across jobs (the daemon's, per reload).
  std::shared_ptr<StageCache> cache;
  // Builds the model stage of pipelines with `model:` (qkvd: model::make_model_stage); empty:
  // such pipelines fail with a clear message.
  ModelStageFactory model_stage_factory;
  // Replaces the plugin registry for the tokenizer (tests, embedders).
  std::function<std::shared_ptr<const Tokenizer>(const config::PipelineConfig&)> tokenizer_factory;
  // Replaces load_job_pipeline (the daemon caches parsed pipelines for inline runs).
  std::function<config::PipelineConfig(const JobSpec&)> pipeline_loader;
  // `qkvd run` only: input "-" reads this process's stdin and output "-" writes its stdout
  // (docs/cli.md). Never the daemon's: a client's JobSpec cannot reach its streams.
  bool std_streams = false;
};

// The job failed; the message says what and where. No output file was written or changed.
class JobFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// The job stopped because its CancelFlag was set; temporary files were removed.
class JobCancelled : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws JobFailed, JobCancelled, config::ConfigError (pipeline file errors) or
// PluginError (plugin refused its config).
JobResult run_job(const JobSpec& spec, const RunEnvironment& env, JobProgress& progress,
                  const CancelFlag& cancel);

// The pipeline a job names, loaded and validated with the job's overrides. With a restricted
// path policy, a pipeline by path must lie in roots.input and is a client's as a whole, one of
// pipelines_dir must be writable by its owner only, and client paths are checked
// (pipeline/client_paths.hpp); refusals throw io::PathError.
config::PipelineConfig load_job_pipeline(const JobSpec& spec, const RunEnvironment& env);

// How the pipeline cuts its inputs into documents (input.format, input.document).
io::Framing input_framing(const config::PipelineConfig& pipeline);

}  // namespace qkv::pipeline
