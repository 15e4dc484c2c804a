// Model runtime benchmark: the machine (CPU, ISA flags, FMA peak of the widest SIMD target),
// GEMM GFLOP/s of the Highway kernel for projection and FFN shapes, and a BERT-base-sized
// encoder's tokens/s against ONNX Runtime and torch (numbers passed in from ort/ort_bert.mjs and
// torch_bert.py, run on the same weights, ids and threads; ORT's hidden states are compared with
// qkv's). oneDNN and BLIS GEMMs are measured beside the Highway kernel where installed
// (gemm_peers.hpp). One table on stdout.
//   model_bench --threads 2 --model DIR [--torch torch.json] [--ort ort.json --ort-hidden F]
//       full run (bench/model/run.sh)
//   model_bench --smoke                                           tiny shapes, fixture model
//   model_bench --stage-only --model DIR [--runs N]               only the model row, e.g. for
//       before/after comparisons of the runtime on bench/model/make_synthetic.py's models
//       (--runs: exactly N timed runs after one warm-up, a fixed workload for callgrind)
#include <tbb/blocked_range2d.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "flash_attention.hpp"
#include "fma_peak.hpp"
#include "gemm_peers.hpp"
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

// Per-call timings of a GEMM: medians (the figure) and the fewest CPU seconds (for reference).
struct Timing {
  double wall = 0;      // median seconds of one call
  double cpu = 0;       // median CPU seconds of one call (all threads)
  double cpu_best = 0;  // fewest CPU seconds of one call
};

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class Fn>
Timing call_timings(Fn fn, int reps) {
  fn();  // warm-up
  std::vector<double> wall, cpu;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    const double c0 = cpu_seconds();
    fn();
    cpu.push_back(cpu_seconds() - c0);
    wall.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return {median_of(wall), median_of(cpu), *std::min_element(cpu.begin(), cpu.end())};
}

struct Shape {
  const char* name;
  size_t m, n, k;
};

// The operands of one GEMM shape, random, and C.
struct GemmData {
  std::vector<float> a, b, c;
  explicit GemmData(Shape s) : a(s.m * s.k), b(s.k * s.n), c(s.m * s.n) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-1, 1);
    for (auto& x : a) x = u(rng);
    for (auto& x : b) x = u(rng);
  }
};

// GFLOP/s of one call per CPU-second times the thread count (the rate when the cores are ours;
// spinning workers count as busy, so it is never flattering): median and best of 15 calls; and
// the median by wall clock.
struct Rates {
  double cpu_median, cpu_best, wall_median;
};

template <class Fn>
Rates gflops(Shape s, int threads, Fn fn) {
  const Timing t = call_timings(fn, 15);
  const double gflop = 2.0 * s.m * s.n * s.k / 1e9;
  return {gflop / (t.cpu / threads), gflop / (t.cpu_best / threads), gflop / t.wall};
}

// A library's single-threaded GEMM over qkv's fixed tiles of C (model/gemm.hpp) on oneTBB.
void tiled_peer(const bench::GemmPeer& p, Shape s, GemmData& g) {
  const size_t tm = (s.m + model::kGemmTileM - 1) / model::kGemmTileM;
  const size_t tn = (s.n + model::kGemmTileN - 1) / model::kGemmTileN;
  tbb::parallel_for(
      tbb::blocked_range2d<size_t>(0, tm, 1, 0, tn, 1),
      [&](const tbb::blocked_range2d<size_t>& r) {
        for (size_t i = r.rows().begin(); i < r.rows().end(); ++i)
          for (size_t j = r.cols().begin(); j < r.cols().end(); ++j) {
            const size_t i0 = i * model::kGemmTileM, j0 = j * model::kGemmTileN;
            p.tile(std::min(model::kGemmTileM, s.m - i0), std::min(model::kGemmTileN, s.n - j0),
                   s.k, g.a.data() + i0 * s.k, s.k, g.b.data() + j0, s.n,
                   g.c.data() + i0 * s.n + j0, s.n);
          }
      },
      tbb::simple_partitioner());
}

// Largest |x - y| over two equally long float arrays.
float max_abs_diff(const std::vector<float>& x, const std::vector<float>& y) {
  float d = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) d = std::max(d, std::abs(x[i] - y[i]));
  return d;
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
  std::string model_dir, torch_json, ort_json, ort_hidden, plugin_dir = QKV_PLUGIN_DIR;
  int sequences = 8, seq_len = 128, runs = 0;
  bool stage_only = false;
  app.add_flag("--smoke", smoke, "tiny shapes and the fixture model, no peer");
  app.add_flag("--stage-only", stage_only, "only the model row (no FMA peak, no GEMM rows)");
  app.add_option("--runs", runs, "exactly this many timed model runs (0: until 3 s)");
  app.add_option("--threads", threads, "oneTBB threads (torch ran with the same)");
  app.add_option("--model", model_dir, "BERT-base-sized model directory");
  app.add_option("--torch", torch_json, "torch_bert.py's result for the same model");
  app.add_option("--ort", ort_json, "ort/ort_bert.mjs's result for the same model and ids");
  app.add_option("--ort-hidden", ort_hidden, "ORT's hidden states (float32) to compare with");
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
  const auto peers = bench::gemm_peers();
  for (const auto& s : shapes) {
    GemmData g(s);
    auto row = [&](const std::string& what, Rates r) {
      std::printf(
          "| GEMM %s, %s | %zux%zux%zu | %.1f GFLOP/s per CPU-s x %d, median (best %.1f; wall "
          "median %.1f) | | %.0f%% of peak (best %.0f%%) |\n",
          s.name, what.c_str(), s.m, s.n, s.k, r.cpu_median, threads, r.cpu_best, r.wall_median,
          100 * r.cpu_median / peak, 100 * r.cpu_best / peak);
    };
    row(std::string("Highway ") + model::gemm_target_name() + " + oneTBB tiles",
        gflops(s, threads, [&] {
          arena.execute([&] {
            model::gemm(model::GemmKernel::Highway,
                        {s.m, s.n, s.k, g.a.data(), s.k, g.b.data(), s.n, g.c.data(), s.n});
          });
        }));
    for (const auto& p : peers) {
      row(p.name + " whole, " + std::to_string(threads) + " library threads",
          gflops(s, threads,
                 [&] { p.whole(s.m, s.n, s.k, g.a.data(), g.b.data(), g.c.data(), threads); }));
      row(p.name + " 1 thread per oneTBB tile",
          gflops(s, threads, [&] { arena.execute([&] { tiled_peer(p, s, g); }); }));
    }
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
  // A peer's tokens/s wall and per CPU-second x threads, from its JSON line.
  struct Peer {
    std::string label;
    double tps = 0, tps_cpu = 0;
  };
  std::vector<Peer> peer_rows;
  for (const auto& [file, key] : {std::pair{ort_json, "ort"}, std::pair{torch_json, "torch"}}) {
    if (file.empty()) continue;
    std::ifstream in(file);
    const auto j = nlohmann::json::parse(in);
    peer_rows.push_back({std::string(key == std::string("ort") ? "ONNX Runtime " : "torch ") +
                             j.at(key).get<std::string>(),
                         j.at("tokens_per_s").get<double>(),
                         j.at("tokens_per_cpu_s").get<double>() * threads});
  }
  {
    const auto stage = make_stage(model_dir, plugins);
    double cpu_total = 0;
    int runs = 0;
    pipeline::StageOutput out;
    const double sec = median_seconds(
        [&] {
          const double c0 = cpu_seconds();
          arena.execute([&] { out = stage->run(batch); });
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
    for (const auto& p : peer_rows) {
      char buf[256];
      std::snprintf(buf, sizeof buf, "%s%s: %.0f tokens/s wall, %.0f per CPU-s x %d (%.1f GFLOP/s)",
                    ref.empty() ? "" : "; ", p.label.c_str(), p.tps, p.tps_cpu, threads,
                    p.tps_cpu * flops_per_token / 1e9);
      ref += buf;
      std::snprintf(buf, sizeof buf, "%svs %s: %.2fx wall, %.2fx CPU-s", ratio.empty() ? "" : "; ",
                    p.label.c_str(), tps / p.tps, tps_cpu / p.tps_cpu);
      ratio += buf;
    }
    if (!ort_hidden.empty() && !out.tensors.empty()) {
      std::ifstream in(ort_hidden, std::ios::binary);
      std::vector<float> theirs(out.tensors[0].values.size());
      in.read(reinterpret_cast<char*>(theirs.data()),
              static_cast<std::streamsize>(theirs.size() * sizeof(float)));
      ratio +=
          in.gcount() == static_cast<std::streamsize>(theirs.size() * sizeof(float))
              ? "; max |qkv - ORT| " + std::to_string(max_abs_diff(out.tensors[0].values, theirs))
              : "; ORT hidden states: short file " + ort_hidden;
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
