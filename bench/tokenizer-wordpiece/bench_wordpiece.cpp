// tokenizer-wordpiece benchmark: qkv's WordPiece core against HF tokenizers' native binding
// (peer.mjs), single thread, whole corpus per language, plus the long no-whitespace documents
// and 2-thread scaling. Prints one table.
//
//   qkv_bench_wordpiece [--runs N] [--peer peer.json]   full run (run.sh feeds the peer)
//   qkv_bench_wordpiece --smoke                          small inputs, no peer (ctest)
//
// Single-thread figures are thread CPU time (the machine is shared: wall time would measure
// the neighbours); the 2-thread figure is wall time (best of N), as scaling is what it
// measures, with the CPU time of both threads beside it (equal CPU = no sharing overhead).
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "wordpiece_tokenizer.hpp"
#include "machine.hpp"

namespace {

using qkv::wordpiece::EncodeParams;
using qkv::wordpiece::Encoding;
using qkv::wordpiece::WordPieceTokenizer;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> read_docs(const std::string& lang, size_t limit) {
  std::vector<std::string> docs;
  std::istringstream in(
      slurp(std::string(QKV_SOURCE_DIR) + "/tests/data/corpus/" + lang + ".jsonl"));
  for (std::string line; std::getline(in, line) && docs.size() < limit;)
    if (!line.empty()) docs.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
  return docs;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

size_t total_bytes(const std::vector<std::string>& docs) {
  size_t n = 0;
  for (const auto& d : docs) n += d.size();
  return n;
}

// Encodes every document once; returns the number of ids.
size_t encode_all(const WordPieceTokenizer& tok, const std::vector<std::string>& docs,
                  Encoding& enc) {
  EncodeParams p;
  p.add_special = true;
  size_t ids = 0;
  for (const auto& d : docs) {
    tok.encode(d, p, enc);
    ids += enc.ids.size();
  }
  return ids;
}

// Median thread-CPU seconds of `runs` passes over docs (one warm-up pass first).
double time_single(const WordPieceTokenizer& tok, const std::vector<std::string>& docs, int runs,
                   size_t* ids) {
  Encoding enc;
  *ids = encode_all(tok, docs, enc);
  std::vector<double> t;
  for (int r = 0; r < runs; ++r) {
    double c0 = thread_cpu_seconds();
    encode_all(tok, docs, enc);
    t.push_back(thread_cpu_seconds() - c0);
  }
  return median(t);
}

// Wall seconds of `reps` passes over docs by `threads` workers taking documents from a shared
// index; *cpu receives the CPU seconds all workers used.
double time_parallel(const WordPieceTokenizer& tok, const std::vector<std::string>& docs,
                     int threads, size_t reps, double* cpu) {
  std::atomic<size_t> next{0};
  std::vector<double> used(static_cast<size_t>(threads), 0.0);
  double w0 = wall_seconds();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      const double c0 = thread_cpu_seconds();
      EncodeParams p;
      p.add_special = true;
      Encoding enc;
      for (size_t i; (i = next.fetch_add(1)) < docs.size() * reps;)
        tok.encode(docs[i % docs.size()], p, enc);
      used[static_cast<size_t>(t)] = thread_cpu_seconds() - c0;
    });
  for (auto& th : pool) th.join();
  const double wall = wall_seconds() - w0;
  *cpu = 0;
  for (double u : used) *cpu += u;
  return wall;
}

std::string base64_random(size_t n, uint32_t seed) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::mt19937 rng(seed);
  std::string s(n, 'A');
  for (auto& c : s) c = kAlphabet[rng() % 64];
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  bool smoke = false;
  int runs = 5;
  std::string peer_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--smoke") {
      smoke = true;
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--peer" && i + 1 < argc) {
      peer_file = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--smoke] [--runs N] [--peer peer.json]\n", argv[0]);
      return 2;
    }
  }
  if (smoke) runs = 1;
  qkv::bench::print_machine();
  std::printf("\n");
  try {
    nlohmann::json peer;
    if (!peer_file.empty()) peer = nlohmann::json::parse(slurp(peer_file));

    WordPieceTokenizer tok(qkv::wordpiece::load_tokenizer_json(
        std::string(QKV_SOURCE_DIR) + "/data/vocab/bert-base-uncased/tokenizer.json"));
    const size_t limit = smoke ? 8 : static_cast<size_t>(-1);

    std::printf(
        "WordPiece bert-base-uncased, [CLS]/[SEP], single thread, thread CPU time, "
        "median of %d\n\n",
        runs);
    std::printf("| input | MB | qkv MB/s | HF tokenizers MB/s | qkv / HF | ids equal |\n");
    std::printf("|---|---:|---:|---:|---:|---|\n");
    bool ok = true;
    double en_ns_per_byte = 0;
    std::vector<std::string> en_docs;
    for (const char* lang : {"en", "code", "ru", "zh"}) {
      auto docs = read_docs(lang, limit);
      size_t ids = 0;
      const double s = time_single(tok, docs, runs, &ids);
      const double bytes = static_cast<double>(total_bytes(docs));
      const double mbps = bytes / 1e6 / s;
      if (std::string(lang) == "en") {
        en_ns_per_byte = s * 1e9 / bytes;
        en_docs = std::move(docs);
      }
      if (ids == 0) ok = false;
      if (peer.contains("mbps") && peer["mbps"].contains(lang)) {
        const double hf = peer["mbps"][lang].get<double>();
        const bool same = peer["ids"][lang].get<size_t>() == ids;
        ok &= same;
        std::printf("| %s | %.2f | %.1f | %.2f | **%.1fx** | %s |\n", lang, bytes / 1e6, mbps, hf,
                    mbps / hf, same ? "yes" : "NO");
      } else {
        std::printf("| %s | %.2f | %.1f | - | - | - |\n", lang, bytes / 1e6, mbps);
      }
    }

    const size_t long_size = smoke ? (64u << 10) : (1u << 20);
    std::printf(
        "\n| long document, no whitespace | MB | qkv MB/s | ns/byte | / English ns/byte |\n");
    std::printf("|---|---:|---:|---:|---:|\n");
    const std::pair<const char*, std::string> longs[] = {
        {"one letter ('a' x 1 MiB)", std::string(long_size, 'a')},
        {"random base64", base64_random(long_size, 12345)}};
    for (const auto& [name, text] : longs) {
      size_t ids = 0;
      const double s = time_single(tok, {text}, runs, &ids);
      const double ns = s * 1e9 / static_cast<double>(text.size());
      std::printf("| %s | %.2f | %.1f | %.2f | %.2fx |\n", name,
                  static_cast<double>(text.size()) / 1e6, text.size() / 1e6 / s, ns,
                  ns / en_ns_per_byte);
      if (ids == 0) ok = false;
    }

    // Scaling: the English corpus `reps` times (long enough that scheduler noise is small),
    // documents handed out dynamically. Wall time, best of N (the run least disturbed by the
    // machine's other users), plus the CPU both used.
    const size_t reps = smoke ? 1 : 8;
    std::vector<double> one, two, cpu_one, cpu_two;
    double cpu = 0;
    time_parallel(tok, en_docs, 2, 1, &cpu);  // warm-up
    for (int r = 0; r < std::max(5, runs); ++r) {
      one.push_back(time_parallel(tok, en_docs, 1, reps, &cpu));
      cpu_one.push_back(cpu);
      two.push_back(time_parallel(tok, en_docs, 2, reps, &cpu));
      cpu_two.push_back(cpu);
    }
    const double m1 = *std::min_element(one.begin(), one.end());
    const double m2 = *std::min_element(two.begin(), two.end());
    const double en_mb = static_cast<double>(total_bytes(en_docs) * reps) / 1e6;
    std::printf(
        "\n| multi-document job (en x %zu, %zu docs) | wall MB/s (best of %zu) | speed-up | "
        "CPU s per job (median) |\n",
        reps, en_docs.size() * reps, one.size());
    std::printf("|---|---:|---:|---:|\n");
    std::printf("| 1 thread | %.1f | 1.00x | %.3f |\n", en_mb / m1, median(cpu_one));
    std::printf("| 2 threads | %.1f | %.2fx | %.3f |\n", en_mb / m2, m1 / m2, median(cpu_two));
    std::printf("\nhardware threads: %u\n", std::thread::hardware_concurrency());
    if (!ok) {
      std::fprintf(stderr, "bench: an input gave no ids, or ids differ from the peer's\n");
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
