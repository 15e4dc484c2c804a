// Model runtime benchmark: the machine (CPU, ISA flags, FMA peak of the widest SIMD target),
// GEMM GFLOP/s of the Highway kernel for projection and FFN shapes, and a BERT-base-sized
// encoder's tokens/s against torch (numbers passed in from torch_bert.py, run on the same
// weights and threads). One table on stdout.
//   model_bench --threads 2 --model DIR [--torch torch.json]     full run (bench/model/run.sh)
//   model_bench --smoke                                           tiny shapes, fixture model
//   model_bench --stage-only --model DIR [--runs N]               only the model row, e.g. for
//       before/after comparisons of the runtime on bench/model/make_synthetic.py's models
//       (--runs: exactly N timed runs after one warm-up, a fixed workload for callgrind)
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "flash_attention.hpp"
#include "fma_peak.hpp"
#include "machine.hpp"
#include "host/plugin_registry.hpp"
#include "model/config.hpp"
#include "model/gemm.hpp"
#include "model/stage.hpp"

using namespace qkv;
using Clock = std::chrono::steady_clock;

namespace {

template <class Fn>
double median_seconds(Fn fn, int reps, double min_total = 0.2) {
  fn();  // warm-up
  std::vector<double> t;
  double total = 0;
  for (int r = 0; r < reps || (min_total > 0 && total < min_total); ++r) {
    const auto t0 = Clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    total += t.back();
    if (t.size() > 50) break;
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// CPU seconds of the whole process (all threads): unlike wall time it does not count the
// time other tenants of a shared machine hold our cores.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Timing {
  double wall = 1e300;  // fastest call, seconds
  double cpu = 1e300;   // fewest CPU seconds of one call (all threads)
};

template <class Fn>
Timing best_timing(Fn fn, int reps) {
  fn();
  Timing t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    const double c0 = cpu_seconds();
    fn();
    t.cpu = std::min(t.cpu, cpu_seconds() - c0);
    t.wall = std::min(t.wall, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return t;
}

struct Shape {
  const char* name;
  size_t m, n, k;
};

// GFLOP/s by wall clock, and per CPU-second times the thread count (the rate when the cores
// are ours; spinning workers count as busy, so it is never flattering).
std::pair<double, double> gemm_gflops(Shape s, tbb::task_arena& arena, int threads) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> a(s.m * s.k), b(s.k * s.n), c(s.m * s.n);
  for (auto& x : a) x = u(rng);
  for (auto& x : b) x = u(rng);
  const Timing t = best_timing(
      [&] {
        arena.execute([&] {
          model::gemm(model::GemmKernel::Highway,
                      {s.m, s.n, s.k, a.data(), s.k, b.data(), s.n, c.data(), s.n});
        });
      },
      15);
  const double flops = 2.0 * s.m * s.n * s.k;
  return {flops / t.wall / 1e9, flops / (t.cpu / threads) / 1e9};
}

// Token ids both sides generate the same way (torch_bert.py: same formula).
std::vector<int32_t> bench_ids(size_t n, uint32_t vocab) {
  std::vector<int32_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int32_t>((i * 2654435761ull + 12345) % vocab);
  return ids;
}

std::unique_ptr<pipeline::ModelStage> make_stage(const std::string& dir,
                                                 const host::PluginRegistry& plugins) {
  config::PipelineConfig::Model m;
  m.path = std::filesystem::absolute(dir);
  m.attention.plugin = "attention-flash";
  return model::make_model_stage({m, ".", "", &plugins});
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"qkv model runtime benchmark"};
  bool smoke = false;
  int threads = 2;
  std::string model_dir, torch_json, plugin_dir = QKV_PLUGIN_DIR;
  int sequences = 8, seq_len = 128, runs = 0;
  bool stage_only = false;
  app.add_flag("--smoke", smoke, "tiny shapes and the fixture model, no peer");
  app.add_flag("--stage-only", stage_only, "only the model row (no FMA peak, no GEMM rows)");
  app.add_option("--runs", runs, "exactly this many timed model runs (0: until 3 s)");
  app.add_option("--threads", threads, "oneTBB threads (torch ran with the same)");
  app.add_option("--model", model_dir, "BERT-base-sized model directory");
  app.add_option("--torch", torch_json, "torch_bert.py's result for the same model");
  app.add_option("--sequences", sequences, "sequences per batch");
  app.add_option("--seq-len", seq_len, "tokens per sequence");
  app.add_option("--plugins", plugin_dir, "plugin directory (attention-flash)");
  CLI11_PARSE(app, argc, argv);
  if (smoke) {
    model_dir = std::string(QKV_SOURCE_DIR) + "/tests/model/fixtures/bert-tiny";
    sequences = 2;
    seq_len = 16;
  }
  if (model_dir.empty()) {
    std::fprintf(stderr, "model_bench: --model DIR or --smoke\n");
    return 2;
  }
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, threads);
  tbb::task_arena arena(threads);

  if (!stage_only) {
    qkv::bench::print_machine();
    std::printf("SIMD targets run: GEMM %s, attention-flash %s\n\n", model::gemm_target_name(),
                attention::flash_target_name());
  }
  const double peak = stage_only ? 0 : qkv::bench::measure_fma_peak(threads);
  std::printf("| measurement | shape | qkv | reference | ratio |\n|---|---|---|---|---|\n");
  if (!stage_only)
    std::printf("| FMA peak, %d threads (measured, %s) | fp32 | %.1f GFLOP/s | | |\n", threads,
                qkv::bench::fma_peak_target(), peak);

  const size_t M = smoke ? 64 : static_cast<size_t>(sequences) * seq_len;
  const std::vector<Shape> shapes =
      stage_only ? std::vector<Shape>{}
      : smoke    ? std::vector<Shape>{{"qkv projection", M, 96, 32}, {"ffn up", M, 128, 32}}
                 : std::vector<Shape>{{"qkv projection", M, 2304, 768},
                                      {"attention output", M, 768, 768},
                                      {"ffn up", M, 3072, 768},
                                      {"ffn down", M, 768, 3072}};
  for (const auto& s : shapes) {
    const auto [wall, cpu] = gemm_gflops(s, arena, threads);
    std::printf(
        "| GEMM %s, Highway %s + oneTBB tiles | %zux%zux%zu | %.1f GFLOP/s per CPU-s x %d (wall: "
        "%.1f) | | %.0f%% of peak |\n",
        s.name, model::gemm_target_name(), s.m, s.n, s.k, cpu, threads, wall, 100 * cpu / peak);
  }

  // The encoder through the pipeline's ModelStage (attention-flash plugin).
  host::PluginRegistry plugins;
  plugins.load_directory(plugin_dir);
  const auto cfg = model::load_config(model_dir);
  pipeline::TokenBatch batch;
  batch.ids.push_back(bench_ids(static_cast<size_t>(sequences) * seq_len, cfg.vocab_size));
  batch.cu_seqlens.emplace_back();
  for (int b = 0; b <= sequences; ++b) batch.cu_seqlens[0].push_back(b * seq_len);
  const double tokens = static_cast<double>(sequences) * seq_len;
  // Dense flops per token: 4 d^2 (QKV+O) + 2 d f (FFN) multiply-adds per layer, plus attention.
  const double d = cfg.d_model, f = cfg.ffn_dim, L = cfg.encoder_layers + cfg.decoder_layers;
  const double flops_per_token = L * (2 * (4 * d * d + 2 * d * f) + 4.0 * seq_len * d);
  double ttps = 0, ttps_cpu = 0;
  std::string torch_version;
  if (!torch_json.empty()) {
    std::ifstream in(torch_json);
    const auto j = nlohmann::json::parse(in);
    ttps = j.at("tokens_per_s").get<double>();
    ttps_cpu = j.at("tokens_per_cpu_s").get<double>() * threads;
    torch_version = j.at("torch").get<std::string>();
  }
  {
    const auto stage = make_stage(model_dir, plugins);
    double cpu_total = 0;
    int runs = 0;
    const double sec = median_seconds(
        [&] {
          const double c0 = cpu_seconds();
          arena.execute([&] { stage->run(batch); });
          cpu_total += cpu_seconds() - c0;
          ++runs;
        },
        runs > 0 ? runs
        : smoke  ? 1
                 : 5,
        runs > 0 || smoke ? 0 : 3.0);
    const double tps = tokens / sec;
    const double tps_cpu = tokens / (cpu_total / runs / threads);
    std::string ref, ratio;
    if (ttps > 0) {
      char buf[256];
      std::snprintf(
          buf, sizeof buf, "torch %s: %.0f tokens/s wall, %.0f per CPU-s x %d (%.1f GFLOP/s)",
          torch_version.c_str(), ttps, ttps_cpu, threads, ttps_cpu * flops_per_token / 1e9);
      ref = buf;
      std::snprintf(buf, sizeof buf, "%.2fx wall, %.2fx CPU-s", tps / ttps, tps_cpu / ttps_cpu);
      ratio = buf;
    }
    const char* arch = cfg.arch == model::Arch::Encoder   ? "encoder"
                       : cfg.arch == model::Arch::Decoder ? "decoder"
                                                          : "encoder-decoder";
    const char* positions = cfg.positions == model::Positions::Learned      ? "learned"
                            : cfg.positions == model::Positions::Sinusoidal ? "sinusoidal"
                            : cfg.positions == model::Positions::Rotary     ? "rotary"
                                                                            : "no";
    std::printf(
        "| %s %.0f layers, d=%u, %u heads, %s positions, %d x %d tokens, Highway %s GEMM | %s | "
        "%.0f tokens/s wall, %.0f per CPU-s x %d (%.1f GFLOP/s) | %s | %s |\n",
        arch, L, cfg.d_model, cfg.heads, positions, sequences, seq_len, model::gemm_target_name(),
        smoke                      ? "smoke"
        : cfg.model_type == "bert" ? "BERT-base"
                                   : "synthetic",
        tps, tps_cpu, threads, tps_cpu * flops_per_token / 1e9, ref.c_str(), ratio.c_str());
  }
  return 0;
}
