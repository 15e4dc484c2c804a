// bench/attention: qkv's flash attention against the machine's FMA peak and torch 1.13 on the
// same shapes, in one run, one table. `--smoke` runs tiny shapes without torch (ctest).
#include "flash_attention.hpp"
#include "fma_peak.hpp"
#include "machine.hpp"

#include <nlohmann/json.hpp>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Shape {
  std::string name;
  uint32_t batch, heads;
  int32_t lq, lk;
  uint32_t dim;
  bool causal;

  // 4*D FLOPs per visible (query, key) pair: 2*D for q.k, 2*D for p*v.
  double flops() const {
    double pairs = 0;
    for (int64_t i = 0; i < lq; ++i)
      pairs += causal ? std::clamp<int64_t>(i + lk - lq + 1, 0, lk) : lk;
    return 4.0 * dim * pairs * heads * batch;
  }
};

// CPU seconds of the calling thread: unlike wall time, barely affected by other processes
// sharing the cores, so the "per CPU-second" columns stay comparable on a busy machine.
double thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// One core's peak per CPU-second: the FMA loop on this thread, best of repeats.
double fma_peak_cpu(int repeats, uint64_t iters) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = thread_cpu();
    if (qkv::bench::fma_loop(iters) == 12345.0) std::puts("");
    best = std::min(best, thread_cpu() - t0);
  }
  return double(iters) * qkv::bench::fma_flops_per_iter() / best / 1e9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Peak GFLOP/s of `threads` threads each running the FMA loop; median of repeats.
double fma_peak(int threads, int repeats, uint64_t iters) {
  std::vector<double> rates;
  for (int r = 0; r < repeats; ++r) {
    std::vector<std::thread> pool;
    std::vector<double> sink(threads);
    const auto t0 = Clock::now();
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] { sink[t] = qkv::bench::fma_loop(iters); });
    for (auto& th : pool) th.join();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (sink[0] == 12345.0) std::puts("");  // keep the loop's result alive
    rates.push_back(double(threads) * iters * qkv::bench::fma_flops_per_iter() / s / 1e9);
  }
  return median(rates);
}

struct Inputs {
  std::vector<float> q, k, v, out;
  std::vector<int32_t> cu_q, cu_k;
  qkv_attention_args args{};
};

Inputs make_inputs(const Shape& s) {
  Inputs in;
  std::mt19937 rng(42);
  std::normal_distribution<float> dist;
  const size_t tq = size_t(s.batch) * s.lq, tk = size_t(s.batch) * s.lk;
  in.q.resize(tq * s.heads * s.dim);
  in.k.resize(tk * s.heads * s.dim);
  in.v.resize(tk * s.heads * s.dim);
  in.out.resize(in.q.size());
  for (auto* buf : {&in.q, &in.k, &in.v})
    for (float& x : *buf) x = dist(rng);
  for (uint32_t b = 0; b <= s.batch; ++b) {
    in.cu_q.push_back(int32_t(b) * s.lq);
    in.cu_k.push_back(int32_t(b) * s.lk);
  }
  auto& a = in.args;
  a.struct_size = sizeof a;
  a.batch = s.batch;
  a.heads_q = a.heads_kv = s.heads;
  a.head_dim = s.dim;
  a.mask = s.causal ? QKV_MASK_CAUSAL : QKV_MASK_NONE;
  a.cu_seqlens_q = in.cu_q.data();
  a.cu_seqlens_k = in.cu_k.data();
  a.q = in.q.data();
  a.k = in.k.data();
  a.v = in.v.data();
  a.out = in.out.data();
  return in;
}

// Median seconds of one flash call on arenas of 1 and `threads` threads, the two measured in
// alternation so that load changes on a shared machine hit both alike.
struct FlashTimes {
  double wall1, wall_n;  // medians, seconds
  double cpu1;           // best thread CPU seconds of the 1-thread runs
};

FlashTimes time_flash(Inputs& in, int threads, int repeats) {
  tbb::task_arena one(1), many(threads);
  std::vector<double> t1, tn, c1;
  auto once = [&](tbb::task_arena& arena, std::vector<double>& times, std::vector<double>* cpu) {
    arena.execute([&] {  // a 1-slot arena runs everything on this thread
      const double c0 = thread_cpu();
      const auto t0 = Clock::now();
      qkv::attention::flash_forward(in.args);
      times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      if (cpu) cpu->push_back(thread_cpu() - c0);
    });
  };
  std::vector<double> warm;
  once(one, warm, nullptr);
  once(many, warm, nullptr);
  for (int r = 0; r < repeats; ++r) {
    once(one, t1, &c1);
    once(many, tn, nullptr);
  }
  for (float x : in.out)
    if (!std::isfinite(x)) throw std::runtime_error("non-finite output " + std::to_string(x));
  return {median(t1), median(tn), *std::min_element(c1.begin(), c1.end())};
}

std::vector<std::vector<double>> time_torch(const std::vector<Shape>& shapes, int threads,
                                            int repeats) {
  nlohmann::json js = nlohmann::json::array();
  for (const auto& s : shapes)
    js.push_back({{"batch", s.batch},
                  {"heads", s.heads},
                  {"lq", s.lq},
                  {"lk", s.lk},
                  {"dim", s.dim},
                  {"causal", s.causal}});
  const std::string cmd = std::string("/usr/bin/python3 ") + QKV_BENCH_DIR +
                          "/torch_attention.py " + std::to_string(threads) + " " +
                          std::to_string(repeats) + " '" + js.dump() + "'";
  std::string text;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
    if (pclose(p) != 0) text.clear();
  }
  if (text.empty()) {
    std::fprintf(stderr, "torch peer failed (%s); torch columns left empty\n", cmd.c_str());
    return std::vector<std::vector<double>>(shapes.size(), {0.0, 0.0});
  }
  return nlohmann::json::parse(text).get<std::vector<std::vector<double>>>();
}

}  // namespace

int main(int argc, char** argv) {
  bool smoke = false, torch = true;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--smoke")
      smoke = true, torch = false;
    else if (arg == "--no-torch")
      torch = false;
    else {
      std::fprintf(stderr, "usage: %s [--smoke] [--no-torch]\n", argv[0]);
      return 2;
    }
  }
  const int threads = 2, repeats = smoke ? 2 : 7;
  // Allow 2 worker threads even where TBB would default to fewer.
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  std::vector<Shape> shapes;
  if (smoke) {
    shapes = {{"self L=100 D=32", 2, 2, 100, 100, 32, false},
              {"causal L=70 D=64", 1, 3, 70, 70, 64, true},
              {"cross Lq=9 Lk=130 D=80", 2, 2, 9, 130, 80, false}};
  } else {
    shapes = {{"self B=1 H=8 L=2048 D=64", 1, 8, 2048, 2048, 64, false},
              {"causal B=1 H=8 L=2048 D=64", 1, 8, 2048, 2048, 64, true},
              {"cross B=1 H=8 Lq=128 Lk=2048 D=64", 1, 8, 128, 2048, 64, false},
              {"self B=32 H=8 L=128 D=64", 32, 8, 128, 128, 64, false},
              {"self B=32 H=8 L=512 D=64", 32, 8, 512, 512, 64, false}};
  }
  const uint64_t iters = smoke ? 1'000'000 : 100'000'000;
  // The peak is measured before and after the shapes; the larger (the conservative "% of
  // peak") is used, since a busy machine can only lower a measurement.
  const int peak_repeats = smoke ? 1 : 5;
  double peak1 = fma_peak(1, peak_repeats, iters);
  double peak2 = fma_peak(2, peak_repeats, iters);
  qkv::bench::print_machine();
  std::printf(
      "attention bench: fp32, flash kernel SIMD target %s, %d threads, medians of %d runs\n",
      qkv::attention::flash_target_name(), threads, repeats);
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) < 0) load[0] = -1;
  std::printf("machine load average at start: %.2f (2 cores shared with other work)\n", load[0]);
  std::printf("FMA peak before: %.1f GFLOP/s on 1 thread, %.1f GFLOP/s on 2 threads\n", peak1,
              peak2);
  std::printf("FLOPs = 4*D per visible (query, key) pair per head (causal: unmasked part only)\n");

  std::vector<std::string> rows;
  std::vector<double> g2s, gcs;
  const double core_peak = fma_peak_cpu(smoke ? 1 : 5, iters);
  for (const Shape& s : shapes) {
    Inputs in = make_inputs(s);
    // torch right before qkv on the same shape, so both see the same machine load.
    const std::vector<double> torch_s =
        torch ? time_torch({s}, threads, repeats).at(0) : std::vector<double>{0.0, 0.0};
    const FlashTimes ft = time_flash(in, threads, repeats);
    const double t1 = ft.wall1, t2 = ft.wall_n, gc = s.flops() / ft.cpu1 / 1e9;
    const double g1 = s.flops() / t1 / 1e9, g2 = s.flops() / t2 / 1e9;
    const double gt = torch_s.at(0) > 0 ? s.flops() / torch_s[0] / 1e9 : 0.0;
    const double gtc = torch_s.at(1) > 0 ? s.flops() / torch_s[1] / 1e9 : 0.0;
    char buf[512];
    std::snprintf(buf, sizeof buf, "| %s | %.1f | %.1f | %%.1f%%%% | %.2fx | ", s.name.c_str(), g1,
                  g2, t1 / t2);
    std::string row = buf;
    if (gt > 0) {
      std::snprintf(buf, sizeof buf, "%.1f | %.1fx |", gt, g2 / gt);
      row += buf;
    } else {
      row += "- | - |";
    }
    std::snprintf(buf, sizeof buf, " %.1f | %%.1f%%%% |", gc);
    row += buf;
    if (gtc > 0) {
      std::snprintf(buf, sizeof buf, " %.1f | %.1fx |", gtc, gc / gtc);
      row += buf;
    } else {
      row += " - | - |";
    }
    gcs.push_back(gc);
    rows.push_back(row);
    g2s.push_back(g2);
  }
  const double after1 = fma_peak(1, peak_repeats, iters), after2 = fma_peak(2, peak_repeats, iters);
  std::printf("FMA peak after:  %.1f GFLOP/s on 1 thread, %.1f GFLOP/s on 2 threads\n", after1,
              after2);
  peak1 = std::max(peak1, after1);
  peak2 = std::max(peak2, after2);
  std::printf("%% of peak below uses the larger 2-thread peak, %.1f GFLOP/s\n", peak2);
  std::printf(
      "per CPU-second (load-independent): core peak %.1f GFLOP/s; qkv 1T by thread CPU time\n\n",
      core_peak);
  std::printf(
      "| shape | qkv 1T GFLOP/s | qkv 2T GFLOP/s | %% of 2T peak | 2T/1T | torch 2T GFLOP/s | "
      "qkv/torch | qkv 1T GFLOP/CPU-s | %% of core peak | torch 1T GFLOP/CPU-s | qkv/torch per "
      "CPU-s |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (size_t i = 0; i < rows.size(); ++i) {
    std::printf(rows[i].c_str(), 100.0 * g2s[i] / peak2, 100.0 * gcs[i] / core_peak);
    std::printf("\n");
  }
  return 0;
}
