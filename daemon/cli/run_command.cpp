// `qkvd run`: one job in-process, through the same pipeline::run_job the daemon's runner uses.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "io/human_bytes.hpp"
#include "io/progress_bar.hpp"
#include "io/stdout_stream.hpp"
#include "cli/cli_context.hpp"
#include "config/diagnostics.hpp"
#include "pipeline/run_job.hpp"
#include "service/daemon_paths.hpp"

namespace qkv::cli {
namespace {

pipeline::CancelFlag* g_cancel = nullptr;  // set while a job runs; SIGINT/SIGTERM cancel it cleanly

extern "C" void on_signal(int) {
  if (g_cancel) g_cancel->requested.store(true);
}

struct RunOptions {
  std::string pipeline;
  std::vector<std::string> inputs;
  std::string output;
  std::vector<std::string> sets;
  unsigned threads = 0;
  bool decode = false;
};

// `-i -` reads stdin and `-o -` writes stdout as the job runs (RunEnvironment::std_streams):
// a chunk ends when stdin stalls, and each finished chunk is written at once, in input order.
// Exit code when the reader of stdout goes away (`| head`): 128 + SIGPIPE, what a shell
// expects of a program stopped by a closed pipe.
constexpr int kStdoutClosed = 128 + SIGPIPE;

// The plugins a pipeline needs, when the pipeline alone names them: a tokenize pipeline's
// tokenizer. A model (its positional plugin follows its config.json) or a tokenizer taken from
// the model's folder: nullopt, every plugin is loaded.
std::optional<std::vector<std::pair<qkv_kind, std::string>>> pipeline_plugins(
    const config::PipelineConfig& cfg) {
  if (cfg.model || cfg.tokenizer.plugin.empty()) return std::nullopt;
  return std::vector<std::pair<qkv_kind, std::string>>{{QKV_KIND_TOKENIZER, cfg.tokenizer.plugin}};
}

// Runs the job on a worker thread and, on a terminal, redraws a progress bar on stderr.
pipeline::JobResult run_with_bar(const pipeline::JobSpec& spec, const pipeline::RunEnvironment& env,
                                 pipeline::JobProgress& progress, pipeline::CancelFlag& cancel) {
  if (!::isatty(STDERR_FILENO)) return pipeline::run_job(spec, env, progress, cancel);
  pipeline::JobResult result;
  std::exception_ptr error;
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::thread worker([&] {
    try {
      result = pipeline::run_job(spec, env, progress, cancel);
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard lock(m);
    done = true;
    cv.notify_one();
  });
  std::unique_lock lock(m);
  bool drawn = false;
  while (!cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return done; })) {
    uint64_t bd = progress.bytes_done, bt = progress.bytes_total;
    double fraction = bt ? std::min(1.0, double(bd) / double(bt)) : -1.0;
    std::fputs(io::progress_bar("running", fraction, progress.documents_done, double(bd),
                                double(bt), spec.pipeline)
                   .c_str(),
               stderr);
    std::fflush(stderr);
    drawn = true;
  }
  lock.unlock();
  worker.join();
  if (drawn) std::fputs("\r\033[K", stderr);
  if (error) std::rethrow_exception(error);
  return result;
}

int run(CliContext& ctx, const RunOptions& o) {
  pipeline::JobSpec spec;
  spec.inputs = o.inputs;
  spec.output = o.output;
  spec.decode = o.decode;
  if (o.threads) spec.threads = o.threads;
  for (const auto& s : o.sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "qkvd run: --set " << s << ": expected key.path=value\n";
      return 2;
    }
    spec.overrides.emplace_back(s.substr(0, eq), s.substr(eq + 1));
  }
  try {
    // A closed stdout must be an EPIPE the writer reports (io::StreamClosed), not a death.
    if (spec.output == "-") std::signal(SIGPIPE, SIG_IGN);
    const auto& daemon = ctx.daemon_config();
    spec.pipeline = o.pipeline.empty() ? daemon.default_pipeline : o.pipeline;
    pipeline::RunEnvironment env;
    env.daemon = &daemon;
    env.pipelines_dir = daemon.pipelines_dir;
    env.std_streams = true;  // `-` is this process's stdin / stdout
    // The user's own rights (no roots), but never an output onto the daemon's own files.
    const auto paths = io::PathPolicy::unrestricted(service::protected_paths(daemon));
    env.paths = &paths;
    // The pipeline is read once, here: it names the plugins to load (pipeline_plugins).
    const config::PipelineConfig cfg = pipeline::load_job_pipeline(spec, env);
    env.pipeline_loader = [&cfg](const pipeline::JobSpec&) { return cfg; };
    if (auto wanted = pipeline_plugins(cfg))
      env.plugins = &ctx.plugins_named(*wanted);
    else
      env.plugins = &ctx.plugins();
    env.model_stage_factory = ctx.model_stage_factory;
    env.threads = daemon.threads;
    pipeline::JobProgress progress;
    pipeline::CancelFlag cancel;
    g_cancel = &cancel;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    pipeline::JobResult r = run_with_bar(spec, env, progress, cancel);
    g_cancel = nullptr;
    // -o - has no companions: say which one a file output would have had, so that none is
    // lost without a word.
    for (const auto& companion : r.not_written)
      std::fprintf(stderr, "qkvd run: -o - prints the main output only; %s was not kept (%s)\n",
                   companion.c_str(),
                   companion == "OUT.ids.jsonl"
                       ? "set output.inline_id=true to print each record's id in its line"
                       : "give -o FILE to keep it");
    const double secs = r.seconds > 0 ? r.seconds : 1e-9;
    std::fprintf(stderr, "qkvd run: %s%s: %llu documents, %llu tokens, %s in %.2f s (%.2f MB/s)\n",
                 spec.pipeline.c_str(), o.decode ? " (decode)" : "",
                 static_cast<unsigned long long>(r.documents),
                 static_cast<unsigned long long>(r.tokens),
                 io::human_bytes(static_cast<double>(r.input_bytes)).c_str(), r.seconds,
                 static_cast<double>(r.input_bytes) / 1e6 / secs);
    if (r.truncated)
      std::fprintf(stderr, "qkvd run: %llu documents truncated to the model's length\n",
                   static_cast<unsigned long long>(r.truncated));
    for (const auto& out : r.outputs) std::fprintf(stderr, "  wrote %s\n", out.c_str());
    return 0;
  } catch (const io::StreamClosed&) {
    g_cancel = nullptr;
    return kStdoutClosed;  // quietly: the reader has what it wanted
  } catch (const pipeline::JobCancelled& e) {
    g_cancel = nullptr;
    std::cerr << (o.output == "-" ? "qkvd run: cancelled; the rows on stdout are incomplete\n"
                                  : "qkvd run: cancelled; no output written\n");
    return 130;
  } catch (const config::ConfigError& e) {
    g_cancel = nullptr;
    std::cerr << e.what() << "\n";
    return 1;
  } catch (const io::PathError& e) {
    g_cancel = nullptr;
    std::cerr << "qkvd run: refused (" << e.code() << "): " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    g_cancel = nullptr;
    std::cerr << "qkvd run: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

void register_run(CLI::App& app, CliContext& ctx) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* sub =
      app.add_subcommand("run", "Run one job in-process (no daemon) and print a summary");
  sub->add_option("--pipeline,-p", o->pipeline,
                  "Pipeline file, or name (file stem) in the configured pipelines folder; default: "
                  "the config's default_pipeline");
  sub->add_option("--input,-i", o->inputs,
                  "Input files or globs (.jsonl/.txt, optionally .gz/.zst; "
                  "with --decode: ids .jsonl or .bin); - reads stdin as it comes (jsonl, or "
                  "input.format)")
      ->required()
      ->expected(1, -1);
  sub->add_option("--output,-o", o->output,
                  "Output path: .jsonl ids, .bin training data, .npy model outputs (or the "
                  "pipeline's output.format); - writes jsonl to stdout as chunks complete")
      ->required();
  sub->add_option("--set", o->sets, "Override a pipeline value: key.path=value (YAML); repeatable");
  sub->add_option("--threads,-t", o->threads,
                  "Worker threads (default: the config's threads; 0 = all cores)");
  sub->add_flag("--decode", o->decode, "Decode direction: token ids -> {\"text\"} jsonl");
  sub->callback([&ctx, o] { ctx.exit_code = run(ctx, *o); });
}

}  // namespace qkv::cli
