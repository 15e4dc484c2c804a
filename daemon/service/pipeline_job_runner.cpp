#include "service/pipeline_job_runner.hpp"

#include "config/diagnostics.hpp"
#include "host/plugin_error.hpp"
#include "io/sha256.hpp"
#include "jobs/job_error.hpp"
#include "service/daemon_paths.hpp"

namespace qkv::service {
namespace {

template <class F>
auto mapped(F&& f) {
  try {
    return f();
  } catch (const pipeline::JobCancelled& e) {
    throw jobs::JobError("cancelled", e.what());
  } catch (const pipeline::JobFailed& e) {
    throw jobs::JobError("job_failed", e.what());
  } catch (const config::ConfigError& e) {
    throw jobs::JobError("pipeline_error", e.what());
  } catch (const PluginError& e) {
    throw jobs::JobError("plugin_error", e.what());
  } catch (const io::PathError& e) {
    throw jobs::JobError(e.code(), e.what());
  }
}

}  // namespace

PipelineJobRunner::PipelineJobRunner(config::DaemonConfig config,
                                     std::shared_ptr<const host::PluginRegistry> plugins,
                                     jobs::Executor& executor, pipeline::ModelStageFactory models)
    : config_(std::move(config)),
      plugins_(std::move(plugins)),
      paths_(path_roots(config_), config_.limits.max_job_input_bytes, protected_paths(config_)) {
  env_.daemon = &config_;
  env_.paths = &paths_;
  env_.pipelines_dir = config_.pipelines_dir;
  env_.plugins = plugins_.get();
  env_.arena = executor.arena();
  env_.threads = executor.single_threaded_jobs() ? 1 : config_.threads;
  env_.cache = std::make_shared<pipeline::StageCache>(config_.limits.cache_bytes);
  env_.model_stage_factory = std::move(models);
  env_.pipeline_loader = [this](const pipeline::JobSpec& spec) { return pipeline_for(spec); };
}

bool PipelineJobRunner::FileStamp::operator==(const FileStamp& o) const noexcept {
  auto same = [](const timespec& a, const timespec& b) {
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
  };
  return dev == o.dev && ino == o.ino && mode == o.mode && size == o.size && same(mtime, o.mtime) &&
         same(ctime, o.ctime);
}

std::optional<PipelineJobRunner::PipelineStamp> PipelineJobRunner::stamp_of(
    const pipeline::JobSpec& spec) const {
  auto of = [](const struct stat& st) {
    return FileStamp{st.st_dev, st.st_ino, st.st_mode, st.st_size, st.st_mtim, st.st_ctim};
  };
  struct stat file {
  }, folder{};
  auto path = config::resolve_pipeline(spec.pipeline, env_.pipelines_dir, &file);
  if (file.st_nlink == 0 || ::stat(path.parent_path().c_str(), &folder) != 0) return std::nullopt;
  return PipelineStamp{std::move(path), of(file), of(folder)};
}

config::PipelineConfig PipelineJobRunner::pipeline_for(const pipeline::JobSpec& spec) {
  if (spec.texts.empty()) return pipeline::load_job_pipeline(spec, env_);
  std::string key = spec.pipeline;
  for (auto& [k, v] : spec.overrides) key += '\0' + k + '=' + v;
  auto stamp = stamp_of(spec);
  if (!stamp) return pipeline::load_job_pipeline(spec, env_);  // it explains what is missing
  {
    std::lock_guard lock(pipelines_mutex_);
    if (auto it = pipelines_.find(key); it != pipelines_.end() && it->second.stamp == *stamp)
      return it->second.config;
  }
  // Changed or new: trust is checked again (a chmod shows only in the ctime), then parsed.
  if (!config::names_pipeline_file(spec.pipeline))
    mapped([&] {
      io::require_trusted_file(stamp->file, "pipeline '" + spec.pipeline + "'");
      return 0;
    });
  // A PipelineConfig holds no YAML (plugin subtrees are immutable copies), so one parse can
  // serve jobs on any thread, model pipelines included.
  config::PipelineConfig cfg = pipeline::load_job_pipeline(spec, env_);
  std::lock_guard lock(pipelines_mutex_);
  pipelines_[key] = CachedPipeline{std::move(*stamp), cfg};
  return cfg;
}

pipeline::JobResult PipelineJobRunner::run(const pipeline::JobSpec& spec,
                                           pipeline::JobProgress& progress,
                                           pipeline::CancelFlag& cancel) {
  return mapped([&] { return pipeline::run_job(spec, env_, progress, cancel); });
}

void PipelineJobRunner::validate(const pipeline::JobSpec& spec) {
  mapped([&] {
    pipeline::load_job_pipeline(spec, env_);
    return 0;
  });
}

std::string PipelineJobRunner::pipeline_sha256(const pipeline::JobSpec& spec) {
  // The file by name or path, as load_job_pipeline resolves it; validate() ran before.
  return mapped(
      [&] { return io::sha256_file(config::resolve_pipeline(spec.pipeline, env_.pipelines_dir)); });
}

io::Framing PipelineJobRunner::input_framing(const pipeline::JobSpec& spec) {
  return mapped([&] { return pipeline::input_framing(pipeline::load_job_pipeline(spec, env_)); });
}

}  // namespace qkv::service
