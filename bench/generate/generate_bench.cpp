// Generation benchmark (issue 13 item 7): decode tokens/s at batch 1 against the memory-bandwidth
// limit (weight bytes a decode step reads as they sit in memory, f32, embedding and LM head
// included; bandwidth = a streaming read of a buffer >= 4x the last-level cache, same threads;
// both medians of 5), decode of 32 prompts together (against torch_decode.py's figure for the
// same model and prompts when --torch-json names it), and prefill tokens/s and GFLOP/s (against
// the encoder of the same shape at the same token count when --encoder names one). Decoder
// models, or encoder-decoder ones (the prompts are then sources). One table on stdout.
//   generate_bench --model DIR --threads N [--encoder DIR] [--torch-json FILE]
//                                              full run (bench/generate/run.sh makes the DIRs)
//   generate_bench --smoke                     tiny fixture models, a few steps
#include <tbb/global_control.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_reduce.h>
#include <tbb/task_arena.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
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
  double prefill_s = 0, prefill_tps = 0, decode_tps = 0;
  double decode_tokens_per_cpu_s = 0;
  double median_step_ms = 0;   // robust against the other tenants' bursts
  std::vector<int32_t> first;  // document 0's tokens: the same as torch's for the same model
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Prompt token i of document b: the ids torch_decode.py uses too.
std::vector<int32_t> prompt_ids(size_t b, size_t n, uint32_t vocab) {
  std::vector<int32_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = int32_t((b * 131 + i * 7) % vocab);
  return ids;
}

Decode run(const pipeline::ModelStage& stage, size_t batch, size_t prompt, uint32_t steps,
           uint32_t vocab) {
  pipeline::GenerateSetup setup;
  setup.options.max_new_tokens = steps + 1;
  setup.fallback_decoder_start = 1;  // encoder-decoder models whose config names none
  auto g = stage.generator(setup);
  for (size_t b = 0; b < batch; ++b) g->add(b, prompt_ids(b, prompt, vocab));
  Decode d;
  auto keep = [&](const std::vector<pipeline::GeneratedToken>& out) {
    for (const auto& t : out)
      if (t.doc == 0) d.first.push_back(t.id);
  };
  auto t0 = Clock::now();
  keep(g->step());  // prefill of every prompt (encoding of every source)
  d.prefill_s = seconds_since(t0);
  d.prefill_tps = double(batch * prompt) / d.prefill_s;
  std::vector<double> step_ms;
  t0 = Clock::now();
  const double c0 = cpu_seconds();
  for (uint32_t s = 0; s < steps; ++s) {
    const auto s0 = Clock::now();
    keep(g->step());
    step_ms.push_back(1e3 * seconds_since(s0));
  }
  d.decode_tps = double(batch * steps) / seconds_since(t0);
  d.decode_tokens_per_cpu_s = double(batch * steps) / (cpu_seconds() - c0);
  d.median_step_ms = median(step_ms);
  return d;
}

// Bytes a decode step reads: every decoder weight as the runtime holds it (f32; the tied LM head
// is its own transposed copy, model/weights.hpp), embedding rows and position table included.
// Encoder-decoder layers add cross-attention's query and output projections (its keys and
// values over the source are computed once per source, not per step).
double decoder_weight_bytes(const model::ModelConfig& c) {
  const double d = c.d_model, f = c.ffn_dim, V = c.vocab_size;
  double layer = d * 3 * d + 3 * d + d * d + d + d * f + f + f * d + d + 4 * d;
  if (c.arch == model::Arch::EncoderDecoder) layer += 2 * (d * d + d) + 2 * d;
  const double positions =
      c.positions == model::Positions::Learned ? double(c.max_positions) * d : 0;
  return 4.0 * (V * d + positions + c.decoder_layers * layer + 2 * d + d * V);
}

// Floating-point operations of a forward over `sequences` x `len` tokens: 2 per multiply-add of
// the projections and FFN, and of attention (causal: on average (len + 1) / 2 keys per query),
// plus the LM head for each sequence's last row when `head`.
double forward_flops(const model::ModelConfig& c, uint32_t layers, size_t sequences, size_t len,
                     bool causal, bool head) {
  const double d = c.d_model, f = c.ffn_dim, n = double(len);
  const double keys = causal ? (n + 1) / 2 : n;
  const double per_token = layers * (2 * (4 * d * d + 2 * d * f) + 4 * keys * d);
  return double(sequences) * (n * per_token + (head ? 2 * d * c.vocab_size : 0));
}

std::unique_ptr<pipeline::ModelStage> make_stage(const std::string& dir,
                                                 const host::PluginRegistry& plugins) {
  config::PipelineConfig::Model m;
  m.path = std::filesystem::absolute(dir);
  m.attention.plugin = "attention-flash";
  return model::make_model_stage({m, ".", "", &plugins});
}

// The encoder's seconds over `sequences` x `len` tokens, median of `runs` (the first warms up).
double encoder_seconds(const pipeline::ModelStage& stage, size_t sequences, size_t len,
                       uint32_t vocab, int runs) {
  pipeline::TokenBatch batch;
  batch.ids.emplace_back();
  batch.cu_seqlens.emplace_back(1, 0);
  for (size_t b = 0; b < sequences; ++b) {
    const auto ids = prompt_ids(b, len, vocab);
    batch.ids[0].insert(batch.ids[0].end(), ids.begin(), ids.end());
    batch.cu_seqlens[0].push_back(int32_t(batch.ids[0].size()));
  }
  std::vector<double> s;
  for (int r = 0; r <= runs; ++r) {
    const auto t0 = Clock::now();
    const auto out = stage.run(batch);
    if (r) s.push_back(seconds_since(t0));
  }
  return median(s);
}

std::string join(const std::vector<int32_t>& v) {
  std::string s;
  for (auto x : v) s += (s.empty() ? "" : " ") + std::to_string(x);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"qkv generation benchmark"};
  std::string model = std::string(QKV_SOURCE_DIR) + "/tests/model/fixtures/gpt2-tiny";
  std::string encoder, torch_json;
  unsigned threads = 2;
  bool smoke = false;
  size_t stream_mib = 1024;
  uint32_t steps = 64;
  size_t prompt = 128;
  app.add_option("--model", model, "model directory (config.json + model.safetensors)");
  app.add_option("--encoder", encoder, "an encoder of the same shape: prefill vs its GFLOP/s");
  app.add_option("--torch-json", torch_json, "torch_decode.py --json output: batch-32 ratio");
  app.add_option("--threads", threads, "threads");
  app.add_option("--steps", steps, "decode steps");
  app.add_option("--prompt", prompt, "prompt (source) length");
  app.add_option("--stream-mib", stream_mib, "bandwidth buffer (>= 4x the last-level cache)");
  app.add_flag("--smoke", smoke, "tiny model, few steps (ctest)");
  CLI11_PARSE(app, argc, argv);
  if (smoke) {
    stream_mib = 16;
    steps = 4;
    prompt = 8;
  }
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, threads);

  host::PluginRegistry plugins;
  plugins.load_directory(QKV_PLUGIN_DIR);
  auto stage = make_stage(model, plugins);
  const auto c = model::load_config(model);
  const bool seq2seq = c.arch == model::Arch::EncoderDecoder;
  const size_t batch = 32;

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
  const Decode many = run(*stage, batch, prompt, steps, c.vocab_size);
  const double limit = gbs * 1e9 / bytes;
  if (seq2seq)
    std::printf(
        "model %s: %u + %u layers x %u, vocab %u, decoder f32 weights %.1f MB; %u threads\n",
        model.c_str(), c.encoder_layers, c.decoder_layers, c.d_model, c.vocab_size, bytes / 1e6,
        threads);
  else
    std::printf("model %s: %u layers x %u, vocab %u, f32 weights %.1f MB; %u threads\n",
                model.c_str(), c.decoder_layers, c.d_model, c.vocab_size, bytes / 1e6, threads);
  std::printf(
      "prompts (sources) of %zu ids, %u decode steps; document 0 begins: %s\n", prompt, steps,
      join(std::vector<int32_t>(many.first.begin(),
                                many.first.begin() + std::min<size_t>(8, many.first.size())))
          .c_str());
  std::printf("| measure | value |\n| --- | --- |\n");
  std::printf("| streaming read, %zu MiB buffer, median of 5 | %.2f GB/s |\n", stream_mib, gbs);
  std::printf(
      "| batch-1 decode, median of %zu | %.1f tokens/s (%.0f%% of the bandwidth limit %.1f "
      "tokens/s); %.1f tokens per CPU-second |\n",
      ones.size(), one.decode_tps, 100.0 * one.decode_tps / limit, limit,
      one.decode_tokens_per_cpu_s);
  std::printf(
      "| batch-32 decode | %.1f tokens/s (%.2f ms per step, median %.2f); %.1f tokens per "
      "CPU-second |\n",
      many.decode_tps, 1e3 * double(batch) / many.decode_tps, many.median_step_ms,
      many.decode_tokens_per_cpu_s);
  if (!torch_json.empty()) {
    std::ifstream in(torch_json);
    const auto j = nlohmann::json::parse(in);
    const double t_tps = j.at("tokens_per_s"), t_med = j.at("median_step_ms"),
                 t_cpu = j.at("tokens_per_cpu_s");
    std::printf(
        "| torch %s batch-32 decode (torch_decode.py) | %.1f tokens/s (median %.2f ms per step); "
        "%.1f tokens per CPU-second; document 0 begins: %s |\n",
        j.at("torch").get<std::string>().c_str(), t_tps, t_med, t_cpu,
        join(j.at("first").get<std::vector<int32_t>>()).c_str());
    std::printf(
        "| qkv / torch, batch-32 decode | %.2fx tokens/s; %.2fx by median step; %.2fx per "
        "CPU-second |\n",
        many.decode_tps / t_tps, t_med / many.median_step_ms, many.decode_tokens_per_cpu_s / t_cpu);
  }
  if (seq2seq) {
    std::printf(
        "| encoding, %zu sources x %zu tokens (+ the decoder's first step) | %.1f tokens/s |\n",
        batch, prompt, many.prefill_tps);
    return 0;
  }
  // Prefill of the 32 prompts, median of 3 (each a fresh generator), against the same-shaped
  // encoder over the same tokens.
  std::vector<double> pre;
  for (int r = 0; r < (smoke ? 1 : 3); ++r) {
    pipeline::GenerateSetup setup;
    setup.options.max_new_tokens = 2;
    auto g = stage->generator(setup);
    for (size_t b = 0; b < batch; ++b) g->add(b, prompt_ids(b, prompt, c.vocab_size));
    const auto t0 = Clock::now();
    g->step();
    pre.push_back(seconds_since(t0));
  }
  const double pre_s = median(pre);
  const double pre_gflops =
      forward_flops(c, c.decoder_layers, batch, prompt, true, true) / pre_s / 1e9;
  std::printf("| prefill, %zu x %zu tokens, median of %zu | %.1f tokens/s, %.1f GFLOP/s |\n", batch,
              prompt, pre.size(), double(batch * prompt) / pre_s, pre_gflops);
  if (!encoder.empty()) {
    const auto enc_stage = make_stage(encoder, plugins);
    const auto ec = model::load_config(encoder);
    const double enc_s = encoder_seconds(*enc_stage, batch, prompt, ec.vocab_size, smoke ? 1 : 3);
    const double enc_gflops =
        forward_flops(ec, ec.encoder_layers, batch, prompt, false, false) / enc_s / 1e9;
    std::printf(
        "| encoder of the same shape, %zu x %zu tokens, median of %d | %.1f tokens/s, %.1f "
        "GFLOP/s |\n",
        batch, prompt, smoke ? 1 : 3, double(batch * prompt) / enc_s, enc_gflops);
    std::printf("| prefill GFLOP/s / encoder GFLOP/s | %.2f |\n", pre_gflops / enc_gflops);
  }
  return 0;
}
