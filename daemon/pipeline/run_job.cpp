#include "pipeline/run_job.hpp"

#include <oneapi/tbb/info.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "config/daemon_config.hpp"
#include "config/diagnostics.hpp"
#include "pipeline/client_paths.hpp"
#include "pipeline/job_context.hpp"
#include "pipeline/plugin_tokenizer.hpp"

namespace qkv::pipeline {
namespace {

// What a model stage holds, for the cache's byte limit: the files of its folder (weights).
uint64_t files_bytes(const std::filesystem::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  return total;
}

}  // namespace

config::PipelineConfig load_job_pipeline(const JobSpec& spec, const RunEnvironment& env) {
  if (spec.pipeline.empty()) throw JobFailed("no pipeline named");
  const bool restricted = env.paths && env.paths->restricted();
  if (restricted && config::names_pipeline_file(spec.pipeline)) {
    auto file = env.paths->resolve_pipeline_file(spec.pipeline);
    auto cfg = config::load_pipeline_config(file, spec.overrides, config::ClientValues::all);
    check_client_paths(cfg, *env.paths, env.plugins);
    return cfg;
  }
  const auto file = config::resolve_pipeline(spec.pipeline, env.pipelines_dir);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    std::string known;
    for (const auto& p : config::list_pipelines(env.pipelines_dir))
      known += (known.empty() ? "" : ", ") + p.stem().string();
    throw JobFailed("pipeline '" + spec.pipeline + "' not found (looked for " + file.string() +
                    "; known: " + (known.empty() ? std::string("none") : known) + ")");
  }
  if (!restricted) return config::load_pipeline_config(file, spec.overrides);
  io::require_trusted_file(file, "pipeline '" + spec.pipeline + "'");
  auto cfg = config::load_pipeline_config(file, spec.overrides, config::ClientValues::overrides);
  check_client_paths(cfg, *env.paths, env.plugins);
  return cfg;
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
  // Inline replies are bounded: a client's request cannot ask for unbounded generation.
  if (env.daemon && !spec.texts.empty() && ctx.pipeline.generate)
    ctx.pipeline.generate->max_new_tokens =
        std::min(ctx.pipeline.generate->max_new_tokens, env.daemon->limits.max_inline_new_tokens);
  static const io::PathPolicy unrestricted = io::PathPolicy::unrestricted();
  ctx.paths = env.paths ? env.paths : &unrestricted;
  ctx.std_streams = env.std_streams;
  if (env.daemon) {  // counted after decompression, in the daemon and in `qkvd run`
    ctx.input_limits.max_line_bytes = env.daemon->limits.max_document_bytes;
    ctx.input_limits.max_total_bytes = env.daemon->limits.max_job_input_bytes;
  }
  if (env.tokenizer_factory) {
    ctx.tokenizer = env.tokenizer_factory(ctx.pipeline);
  } else {
    if (!env.plugins) throw JobFailed("no plugin registry to create the tokenizer from");
    ctx.tokenizer = make_plugin_tokenizer(ctx.pipeline, *env.plugins, env.cache.get(),
                                          env.daemon ? env.daemon->limits.max_vocab_bytes : 0);
    ctx.target_tokenizer =
        make_plugin_target_tokenizer(ctx.pipeline, *env.plugins, env.cache.get(),
                                     env.daemon ? env.daemon->limits.max_vocab_bytes : 0);
    if (ctx.target_tokenizer && ctx.target_tokenizer->vocab_size() != ctx.tokenizer->vocab_size())
      throw JobFailed(ctx.pipeline.file.string() + ": target_tokenizer: vocab_size " +
                      std::to_string(ctx.target_tokenizer->vocab_size()) +
                      " differs from the tokenizer's " +
                      std::to_string(ctx.tokenizer->vocab_size()) +
                      " (the model has one vocabulary for both sides)");
  }
  if (ctx.pipeline.model && !spec.decode) {
    if (!env.model_stage_factory)
      throw JobFailed(ctx.pipeline.file.string() +
                      ": model: this program was built without the model runtime");
    auto make = [&] {
      return env.model_stage_factory(ModelStageContext{*ctx.pipeline.model, ctx.pipeline.dir,
                                                       ctx.pipeline.file.string(), env.plugins});
    };
    ctx.model = env.cache ? env.cache->model(StageCache::model_key(ctx.pipeline), make,
                                             files_bytes(ctx.pipeline.model->path))
                          : make();
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
