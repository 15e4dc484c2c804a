// Llama-family prefill benchmark (issue 14 item 6): a Llama-layout model through the pipeline's
// ModelStage (attention-flash), tokens/s and the dense GFLOP/s as % of the measured FMA peak,
// against torch running tests/model/make_hf_fixtures.py's forward on the same weights
// (torch_llama.py time, passed in as JSON). One table on stdout.
//   family_bench --model DIR [--torch torch.json] [--threads 2]   (bench/model-families/run.sh)
//   family_bench --smoke                                          the llama-gqa1 fixture
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fma_peak.hpp"
#include "host/plugin_registry.hpp"
#include "machine.hpp"
#include "model/config.hpp"
#include "model/gemm.hpp"
#include "model/stage.hpp"

using namespace qkv;
using Clock = std::chrono::steady_clock;

namespace {

double cpu_seconds() {  // all threads: unlike wall time, not inflated by other tenants
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"qkv Llama-family prefill benchmark"};
  bool smoke = false;
  int threads = 2, sequences = 4, seq_len = 128, reps = 3;
  std::string model_dir, torch_json, plugin_dir = QKV_PLUGIN_DIR;
  app.add_flag("--smoke", smoke, "the tiny llama-gqa1 fixture, one run, no peer");
  app.add_option("--model", model_dir, "Llama-layout model directory (torch_llama.py make)");
  app.add_option("--torch", torch_json, "torch_llama.py time's result on the same model");
  app.add_option("--threads", threads, "oneTBB threads (torch ran with the same)");
  app.add_option("--sequences", sequences, "documents per batch");
  app.add_option("--seq-len", seq_len, "tokens per document");
  app.add_option("--reps", reps, "timed runs after one warm-up (the median is reported)");
  app.add_option("--plugins", plugin_dir, "plugin directory");
  CLI11_PARSE(app, argc, argv);
  if (smoke) {
    model_dir = std::string(QKV_SOURCE_DIR) + "/tests/model/hf_fixtures/llama-gqa1";
    sequences = 2;
    seq_len = 16;
    reps = 1;
  }
  if (model_dir.empty()) {
    std::fprintf(stderr, "family_bench: --model DIR or --smoke\n");
    return 2;
  }
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, threads);
  tbb::task_arena arena(threads);
  qkv::bench::print_machine();
  const double peak = qkv::bench::measure_fma_peak(threads);

  host::PluginRegistry plugins;
  plugins.load_directory(plugin_dir);
  config::PipelineConfig::Model m;
  m.path = std::filesystem::absolute(model_dir);
  m.attention.plugin = "attention-flash";
  const auto stage = model::make_model_stage({m, ".", "", &plugins});
  const auto c = model::load_config(model_dir);

  pipeline::TokenBatch batch;
  const size_t n = static_cast<size_t>(sequences) * seq_len;
  batch.ids.emplace_back(n);
  for (size_t i = 0; i < n; ++i)  // the formula torch_llama.py uses
    batch.ids[0][i] = static_cast<int32_t>((i * 2654435761ull + 12345) % c.vocab_size);
  batch.cu_seqlens.emplace_back();
  for (int b = 0; b <= sequences; ++b) batch.cu_seqlens[0].push_back(b * seq_len);

  // Dense multiply-adds per token and layer: q, k, v, o projections and the three SwiGLU
  // matrices; causal attention reads seq_len/2 keys on average (QK^T and PV).
  const double d = c.d_model, qw = c.q_width(), kvw = c.kv_width(), f = c.ffn_dim;
  const double per_layer = 2 * (d * qw + 2 * d * kvw + qw * d + 3 * d * f) + 2.0 * seq_len * qw;
  const double flops_per_token = c.decoder_layers * per_layer;

  std::vector<double> walls;
  double best_cpu = 1e300;
  for (int r = 0; r <= reps; ++r) {
    const auto t0 = Clock::now();
    const double c0 = cpu_seconds();
    arena.execute([&] { stage->run(batch); });
    if (r == 0) continue;  // warm-up
    walls.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    best_cpu = std::min(best_cpu, cpu_seconds() - c0);
  }
  std::sort(walls.begin(), walls.end());
  const double tps = n / walls[walls.size() / 2];
  const double tps_cpu = n / (best_cpu / threads);  // per CPU-second of each of `threads`
  const double gflops_cpu = tps_cpu * flops_per_token / 1e9;

  std::printf("\n| measurement | qkv | torch | qkv / torch |\n|---|---|---|---|\n");
  std::printf("| FMA peak, %d threads (measured, %s) | %.1f GFLOP/s | | |\n", threads,
              qkv::bench::fma_peak_target(), peak);
  std::string ref = "-", ratio = "-";
  if (!torch_json.empty()) {
    std::ifstream in(torch_json);
    const auto j = nlohmann::json::parse(in);
    const double ttps = j.at("tokens_per_s").get<double>();
    const double ttps_cpu = j.at("tokens_per_cpu_s").get<double>() * threads;
    char buf[256];
    std::snprintf(buf, sizeof buf, "torch %s: %.0f tok/s wall, %.0f per CPU-s x %d",
                  j.at("torch").get<std::string>().c_str(), ttps, ttps_cpu, threads);
    ref = buf;
    std::snprintf(buf, sizeof buf, "%.2fx wall, %.2fx CPU-s", tps / ttps, tps_cpu / ttps_cpu);
    ratio = buf;
  }
  std::printf(
      "| prefill %s d=%u heads=%u/%u ffn=%u layers=%u, %d x %d tokens, GEMM %s | %.0f tok/s wall, "
      "%.0f per CPU-s x %d = %.1f GFLOP/s (%.0f%% of peak) | %s | %s |\n",
      c.model_type.c_str(), c.d_model, c.heads, c.kv_head_count(), c.ffn_dim, c.decoder_layers,
      sequences, seq_len, model::gemm_target_name(), tps, tps_cpu, threads, gflops_cpu,
      100 * gflops_cpu / peak, ref.c_str(), ratio.c_str());
  return 0;
}
