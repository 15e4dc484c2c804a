// Generation benchmark (issue 13 item 7): decode tokens/s at batch 1 against the memory-bandwidth
// limit (weight bytes as they sit in memory, f32, embedding and LM head included; bandwidth = a
// streaming read of a buffer >= 4x the last-level cache, same threads; both medians of 5), decode
// tokens/s of 32 prompts together, and prefill tokens/s. One table on stdout.
//   generate_bench --model DIR --threads N     full run (bench/generate/run.sh makes DIR)
//   generate_bench --smoke                     tiny fixture model, a few steps
#include <tbb/global_control.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_reduce.h>
#include <tbb/task_arena.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <numeric>
#include <vector>

#include "host/plugin_registry.hpp"
#include "machine.hpp"
#include "model/config.hpp"
#include "model/stage.hpp"

using namespace qkv;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// GB/s of a parallel streaming read (sum of floats) over `bytes`, median of 5.
double stream_read_gbs(size_t bytes) {
  std::vector<float> buf(bytes / sizeof(float), 1.0f);
  std::vector<double> gbs;
  for (int r = 0; r < 6; ++r) {
    const auto t0 = Clock::now();
    const double s = tbb::parallel_reduce(
        tbb::blocked_range<size_t>(0, buf.size(), 1 << 16), 0.0,
        [&](const tbb::blocked_range<size_t>& r, double acc) {
          // 16 independent sums: the loop is bound by memory, not by one add chain.
          float a[16] = {};
          size_t i = r.begin();
          for (; i + 16 <= r.end(); i += 16)
            for (int k = 0; k < 16; ++k) a[k] += buf[i + k];
          for (; i < r.end(); ++i) a[0] += buf[i];
          return acc + std::accumulate(a, a + 16, 0.0);
        },
        std::plus<>());
    const double t = seconds_since(t0);
    if (s < 0) std::puts("");                       // keeps the sum alive
    if (r) gbs.push_back(double(bytes) / t / 1e9);  // the first run warms the pages
  }
  std::sort(gbs.begin(), gbs.end());
  return gbs[gbs.size() / 2];
}

// Process CPU seconds (all threads): the machine is shared, so figures per CPU-second sit next
// to the wall-clock ones.
double cpu_seconds() { return double(std::clock()) / CLOCKS_PER_SEC; }

struct Decode {
  double prefill_tps = 0, decode_tps = 0;
  double decode_tokens_per_cpu_s = 0;
};

Decode run(const pipeline::ModelStage& stage, size_t batch, size_t prompt, uint32_t steps,
           uint32_t vocab) {
  pipeline::GenerateSetup setup;
  setup.options.max_new_tokens = steps + 1;
  auto g = stage.generator(setup);
  std::vector<int32_t> ids(prompt);
  for (size_t b = 0; b < batch; ++b) {
    for (size_t i = 0; i < prompt; ++i) ids[i] = int32_t((b * 131 + i * 7) % vocab);
    g->add(b, ids);
  }
  Decode d;
  auto t0 = Clock::now();
  g->step();  // prefill of every prompt
  d.prefill_tps = double(batch * prompt) / seconds_since(t0);
  t0 = Clock::now();
  const double c0 = cpu_seconds();
  for (uint32_t s = 0; s < steps; ++s) g->step();
  d.decode_tps = double(batch * steps) / seconds_since(t0);
  d.decode_tokens_per_cpu_s = double(batch * steps) / (cpu_seconds() - c0);
  return d;
}

// Bytes a decode step reads: every decoder weight as the runtime holds it (f32; the tied LM head
// is its own transposed copy, model/weights.hpp), embedding rows and position table included.
double decoder_weight_bytes(const model::ModelConfig& c) {
  const double d = c.d_model, f = c.ffn_dim, V = c.vocab_size;
  const double layer = d * 3 * d + 3 * d + d * d + d + d * f + f + f * d + d + 4 * d;
  const double positions =
      c.positions == model::Positions::Learned ? double(c.max_positions) * d : 0;
  return 4.0 * (V * d + positions + c.decoder_layers * layer + 2 * d + d * V);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"qkv generation benchmark"};
  std::string model = std::string(QKV_SOURCE_DIR) + "/tests/model/fixtures/gpt2-tiny";
  unsigned threads = 2;
  bool smoke = false;
  size_t stream_mib = 1024;
  app.add_option("--model", model, "model directory (config.json + model.safetensors)");
  app.add_option("--threads", threads, "threads");
  app.add_option("--stream-mib", stream_mib, "bandwidth buffer (>= 4x the last-level cache)");
  app.add_flag("--smoke", smoke, "tiny model, few steps (ctest)");
  CLI11_PARSE(app, argc, argv);
  if (smoke) stream_mib = 16;
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, threads);

  host::PluginRegistry plugins;
  plugins.load_directory(QKV_PLUGIN_DIR);
  config::PipelineConfig::Model m;
  m.path = model;
  m.attention.plugin = "attention-flash";
  auto stage = model::make_model_stage({m, ".", "", &plugins});
  const auto c = model::load_config(model);
  const uint32_t steps = smoke ? 4 : 64;
  const size_t prompt = smoke ? 8 : 128;

  bench::print_machine();
  const double bytes = decoder_weight_bytes(c);
  const double gbs = stream_read_gbs(stream_mib << 20);
  // Batch 1: the median of 5 runs by wall-clock tokens/s.
  std::vector<Decode> ones;
  for (int r = 0; r < (smoke ? 1 : 5); ++r)
    ones.push_back(run(*stage, 1, prompt, steps, c.vocab_size));
  std::sort(ones.begin(), ones.end(),
            [](const Decode& a, const Decode& b) { return a.decode_tps < b.decode_tps; });
  const Decode one = ones[ones.size() / 2];
  const Decode many = run(*stage, 32, prompt, steps, c.vocab_size);
  const double limit = gbs * 1e9 / bytes;
  std::printf("model %s: %u layers x %u, vocab %u, f32 weights %.1f MB; %u threads\n",
              model.c_str(), c.decoder_layers, c.d_model, c.vocab_size, bytes / 1e6, threads);
  std::printf("| measure | value |\n| --- | --- |\n");
  std::printf("| streaming read, %zu MiB buffer, median of 5 | %.2f GB/s |\n", stream_mib, gbs);
  std::printf(
      "| batch-1 decode, median of %zu | %.1f tokens/s (%.0f%% of the bandwidth limit %.1f "
      "tokens/s); %.1f tokens per CPU-second |\n",
      ones.size(), one.decode_tps, 100.0 * one.decode_tps / limit, limit,
      one.decode_tokens_per_cpu_s);
  std::printf(
      "| batch-32 decode | %.1f tokens/s (%.2f ms per step); %.1f tokens per CPU-second |\n",
      many.decode_tps, 1e3 * 32 / many.decode_tps, many.decode_tokens_per_cpu_s);
  std::printf("| prefill, 32 x %zu tokens | %.1f tokens/s |\n", prompt, many.prefill_tps);
  return 0;
}
