#include "pipeline/run_job.hpp"

#include <oneapi/tbb/info.h>

#include <chrono>
#include <optional>

#include "config/diagnostics.hpp"
#include "pipeline/job_context.hpp"
#include "pipeline/plugin_tokenizer.hpp"

namespace qkv::pipeline {

config::PipelineConfig load_job_pipeline(const JobSpec& spec, const RunEnvironment& env) {
  if (spec.pipeline.empty()) throw JobFailed("no pipeline named");
  const auto file = config::resolve_pipeline(spec.pipeline, env.pipelines_dir);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    std::string known;
    for (const auto& p : config::list_pipelines(env.pipelines_dir))
      known += (known.empty() ? "" : ", ") + p.stem().string();
    throw JobFailed("pipeline '" + spec.pipeline + "' not found (looked for " + file.string() +
                    "; known: " + (known.empty() ? std::string("none") : known) + ")");
  }
  return config::load_pipeline_config(file, spec.overrides);
}

JobResult run_job(const JobSpec& spec, const RunEnvironment& env, JobProgress& progress,
                  const CancelFlag& cancel) {
  const auto start = std::chrono::steady_clock::now();
  if (spec.inputs.empty() && spec.texts.empty())
    throw JobFailed("the job has no inputs and no inline texts");
  if (!spec.inputs.empty() && !spec.texts.empty())
    throw JobFailed("a job takes input files or inline texts, not both");

  detail::JobContext ctx{
      spec,     env.pipeline_loader ? env.pipeline_loader(spec) : load_job_pipeline(spec, env),
      nullptr,  nullptr,
      progress, cancel};
  if (env.tokenizer_factory) {
    ctx.tokenizer = env.tokenizer_factory(ctx.pipeline);
  } else {
    if (!env.plugins) throw JobFailed("no plugin registry to create the tokenizer from");
    ctx.tokenizer = make_plugin_tokenizer(ctx.pipeline, *env.plugins, env.cache.get());
  }
  if (ctx.pipeline.model && !spec.decode) {
    if (!env.model_stage_factory)
      throw JobFailed(ctx.pipeline.file.string() +
                      ": model: this program was built without the model runtime");
    auto make = [&] {
      return env.model_stage_factory(ModelStageContext{*ctx.pipeline.model, ctx.pipeline.dir,
                                                       ctx.pipeline.file.string(), env.plugins});
    };
    ctx.model = env.cache ? env.cache->model(StageCache::model_key(ctx.pipeline), make) : make();
  }

  std::optional<oneapi::tbb::task_arena> own;
  if (env.arena && !spec.threads) {
    ctx.arena = env.arena;
    ctx.threads = static_cast<unsigned>(env.arena->max_concurrency());
  } else {
    unsigned n = spec.threads.value_or(env.threads);
    if (n == 0) n = static_cast<unsigned>(oneapi::tbb::info::default_concurrency());
    own.emplace(static_cast<int>(n));
    ctx.arena = &*own;
    ctx.threads = n;
  }

  JobResult result = spec.decode ? detail::run_decode(ctx) : detail::run_encode(ctx);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace qkv::pipeline
