#include "service/pipeline_job_runner.hpp"

#include "config/diagnostics.hpp"
#include "host/plugin_error.hpp"
#include "jobs/job_error.hpp"
#include "pipeline/plugin_tokenizer.hpp"

namespace qkv::service {
namespace {

// Everything of the tokenizer section that changes the tokenizer it makes.
std::string tokenizer_key(const config::PipelineConfig& p) {
  YAML::Emitter e;
  e << YAML::Flow << p.tokenizer.config;
  std::string key = p.file.string() + '\n' + p.tokenizer.plugin + '\n' + e.c_str() + '\n' +
                    std::to_string(int(p.tokenizer.special)) + ' ' +
                    std::to_string(p.tokenizer.add_special) + ' ' +
                    std::to_string(p.tokenizer.max_length);
  for (auto& n : p.tokenizer.special_names) key += '\n' + n;
  return key;
}

// The tokenizer key of the pipeline this thread's current run loaded from the cache: run_job
// calls pipeline_loader, then tokenizer_factory, on the calling thread.
thread_local std::shared_ptr<const std::string> t_cached_key;

template <class F>
auto mapped(F&& f) {
  try {
    return f();
  } catch (const JobCancelled& e) {
    throw jobs::JobError("cancelled", e.what());
  } catch (const JobFailed& e) {
    throw jobs::JobError("job_failed", e.what());
  } catch (const config::ConfigError& e) {
    throw jobs::JobError("pipeline_error", e.what());
  } catch (const PluginError& e) {
    throw jobs::JobError("plugin_error", e.what());
  }
}

}  // namespace

PipelineJobRunner::PipelineJobRunner(config::DaemonConfig config,
                                     std::shared_ptr<const host::PluginRegistry> plugins,
                                     jobs::Executor& executor)
    : config_(std::move(config)), plugins_(std::move(plugins)) {
  env_.daemon = &config_;
  env_.pipelines_dir = config_.pipelines_dir;
  env_.plugins = plugins_.get();
  env_.arena = executor.arena();
  env_.threads = executor.single_threaded_jobs() ? 1 : config_.threads;
  env_.tokenizer_factory = [this](const config::PipelineConfig& p) { return tokenizer_for(p); };
  env_.pipeline_loader = [this](const JobSpec& spec) { return pipeline_for(spec); };
}

config::PipelineConfig PipelineJobRunner::pipeline_for(const JobSpec& spec) {
  if (spec.texts.empty()) return load_job_pipeline(spec, env_);
  std::string key = spec.pipeline;
  for (auto& [k, v] : spec.overrides) key += '\0' + k + '=' + v;
  std::error_code ec;
  auto file = config::resolve_pipeline(spec.pipeline, env_.pipelines_dir);
  auto mtime = std::filesystem::last_write_time(file, ec);
  auto size = ec ? 0 : std::filesystem::file_size(file, ec);
  if (ec) return load_job_pipeline(spec, env_);  // it explains what is missing
  {
    std::lock_guard lock(pipelines_mutex_);
    if (auto it = pipelines_.find(key);
        it != pipelines_.end() && it->second.mtime == mtime && it->second.size == size) {
      t_cached_key = it->second.tokenizer_key;
      return it->second.config;
    }
  }
  config::PipelineConfig cfg = load_job_pipeline(spec, env_);
  // Model pipelines hand YAML nodes to the model stage, and yaml-cpp nodes must not be read
  // from several threads at once: those are never shared.
  if (cfg.model) return cfg;
  auto tk = std::make_shared<const std::string>(tokenizer_key(cfg));
  std::lock_guard lock(pipelines_mutex_);
  pipelines_[key] = CachedPipeline{mtime, size, cfg, tk};
  t_cached_key = tk;
  return cfg;
}

std::shared_ptr<const Tokenizer> PipelineJobRunner::tokenizer_for(const config::PipelineConfig& p) {
  std::string key = t_cached_key ? *t_cached_key : tokenizer_key(p);
  t_cached_key.reset();
  std::lock_guard lock(cache_mutex_);
  auto& slot = tokenizers_[key];
  if (!slot) slot = make_plugin_tokenizer(p, *plugins_);
  return slot;
}

JobResult PipelineJobRunner::run(const JobSpec& spec, JobProgress& progress, CancelFlag& cancel) {
  t_cached_key.reset();
  return mapped([&] { return run_job(spec, env_, progress, cancel); });
}

void PipelineJobRunner::validate(const JobSpec& spec) {
  mapped([&] {
    load_job_pipeline(spec, env_);
    return 0;
  });
}

}  // namespace qkv::service
