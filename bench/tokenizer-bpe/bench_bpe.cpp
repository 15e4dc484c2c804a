// tokenizer-bpe benchmark: one table, single thread, whole corpus per language, MB/s of qkv
// (gpt2, cl100k, o200k) against the npm peers (HF tokenizers binding, tiktoken WASM) measured
// by peers.mjs in the same run; plus the superlinear blow-up check and a 2-thread job.
//   qkv_bench_bpe [--smoke] [--runs N] [--peers peers.json] [--root DIR]
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <time.h>
#include <vector>

#include "factory.hpp"
#include "machine.hpp"

namespace {

using qkv::bpe::Bpe;
using qkv::bpe::BpeConfig;
using Clock = std::chrono::steady_clock;

struct Args {
  bool smoke = false;
  int runs = 5;
  std::string peers;
  std::string root = QKV_SOURCE_DIR;
};

std::vector<std::string> read_corpus(const std::string& path, size_t max_bytes) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<std::string> docs;
  size_t total = 0;
  for (std::string line; std::getline(in, line) && total < max_bytes;) {
    if (line.empty()) continue;
    docs.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
    total += docs.back().size();
  }
  return docs;
}

size_t total_bytes(const std::vector<std::string>& docs) {
  size_t n = 0;
  for (const auto& d : docs) n += d.size();
  return n;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// CPU time of the calling thread: on a shared, loaded machine wall time mostly measures the
// neighbours; the peers are measured the same way (process CPU time, peers.mjs).
double thread_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

// CPU seconds to encode every document once, one thread.
double encode_seconds(const Bpe& bpe, const std::vector<std::string>& docs, size_t* tokens) {
  std::vector<int32_t> ids;
  size_t n = 0;
  const double t0 = thread_cpu_seconds();
  for (const auto& d : docs) {
    ids.clear();
    bpe.encode(d, {}, 0, ids, nullptr);
    n += ids.size();
  }
  const double s = thread_cpu_seconds() - t0;
  if (tokens) *tokens = n;
  return s;
}

// MB/s of each tokenizer on docs (median of runs). The runs of the tokenizers interleave, so
// a slow phase of the shared machine does not land on one of them only.
template <class Toks>
std::vector<double> mbps(const Toks& toks, const std::vector<std::string>& docs, int runs) {
  std::vector<std::vector<double>> v(toks.size());
  for (const auto& t : toks) encode_seconds(*t.bpe, docs, nullptr);  // warm-up
  for (int r = 0; r < runs; ++r)
    for (size_t k = 0; k < toks.size(); ++k)
      v[k].push_back(total_bytes(docs) / 1e6 / encode_seconds(*toks[k].bpe, docs, nullptr));
  std::vector<double> out;
  for (auto& x : v) out.push_back(median(x));
  return out;
}

// A multi-document job on `threads` threads sharing one instance: wall seconds, and the
// CPU seconds all threads used together.
struct JobTime {
  double wall, cpu;
};
JobTime job_seconds(const Bpe& bpe, const std::vector<std::string>& docs, int threads) {
  std::atomic<size_t> next{0};
  std::vector<double> cpu(size_t(threads), 0);
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      const double c0 = thread_cpu_seconds();
      std::vector<int32_t> ids;
      for (size_t i; (i = next.fetch_add(1)) < docs.size();) {
        ids.clear();
        bpe.encode(docs[i], {}, 0, ids, nullptr);
      }
      cpu[size_t(t)] = thread_cpu_seconds() - c0;
    });
  for (auto& th : pool) th.join();
  double total = 0;
  for (double c : cpu) total += c;
  return {std::chrono::duration<double>(Clock::now() - t0).count(), total};
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c + " (" + std::to_string(std::thread::hardware_concurrency()) +
         " cores)";
}

std::string fmt(double v, int prec = 1) {
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(k + " needs a value");
      return argv[++i];
    };
    if (k == "--smoke")
      a.smoke = true;
    else if (k == "--runs")
      a.runs = std::stoi(val());
    else if (k == "--peers")
      a.peers = val();
    else if (k == "--root")
      a.root = val();
    else {
      std::fprintf(stderr, "usage: %s [--smoke] [--runs N] [--peers FILE] [--root DIR]\n", argv[0]);
      return 2;
    }
  }
  if (a.smoke) a.runs = 1;
  qkv::bench::print_machine();
  std::printf("\n");
  const size_t max_bytes = a.smoke ? 64 * 1024 : SIZE_MAX;
  const std::string vocab = a.root + "/data/vocab/";

  struct Tok {
    std::string name;
    BpeConfig cfg;
    std::unique_ptr<Bpe> bpe;
  };
  std::vector<Tok> toks;
  toks.push_back(
      {"gpt2", {"gpt2", "", vocab + "gpt2/encoder.json", vocab + "gpt2/vocab.bpe", ""}, nullptr});
  toks.push_back({"cl100k", {"cl100k_base", vocab + "cl100k_base.tiktoken", "", "", ""}, nullptr});
  toks.push_back({"o200k", {"o200k_base", vocab + "o200k_base.tiktoken", "", "", ""}, nullptr});
  for (auto& t : toks) t.bpe = qkv::bpe::make_bpe(t.cfg);

  nlohmann::json peers;
  if (!a.peers.empty()) {
    std::ifstream in(a.peers);
    if (!in) throw std::runtime_error("cannot open " + a.peers);
    in >> peers;
  }
  auto peer = [&](const char* key, const std::string& lang) -> double {
    if (peers.contains(key) && peers[key].contains(lang)) return peers[key][lang].get<double>();
    return 0;
  };

  const char* langs[] = {"en", "code", "ru", "zh"};
  std::printf(
      "| corpus | MB | qkv gpt2 | qkv cl100k | qkv o200k | HF gpt2 | tiktoken gpt2 | tiktoken "
      "cl100k | tiktoken o200k | gpt2 / HF | gpt2 / tiktoken | cl100k / tiktoken | o200k / "
      "tiktoken |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  double en_sec_per_byte[3] = {0, 0, 0};
  std::vector<std::string> en_docs;
  for (const char* lang : langs) {
    auto docs = read_corpus(a.root + "/tests/data/corpus/" + lang + ".jsonl", max_bytes);
    if (std::string(lang) == "en") en_docs = docs;
    const std::vector<double> q = mbps(toks, docs, a.runs);
    if (std::string(lang) == "en")
      for (int k = 0; k < 3; ++k) en_sec_per_byte[k] = 1 / (q[size_t(k)] * 1e6);
    const double hf = peer("hf_gpt2", lang), t50 = peer("tiktoken_r50k", lang),
                 t100 = peer("tiktoken_cl100k", lang), t200 = peer("tiktoken_o200k", lang);
    auto ratio = [](double x, double y) {
      std::string r = "-";
      if (y > 0) r = fmt(x / y, 1), r.push_back('x');
      return r;
    };
    auto mb = [](double x) { return x > 0 ? fmt(x, 2) : std::string("-"); };
    std::printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", lang,
                fmt(total_bytes(docs) / 1e6, 2).c_str(), fmt(q[0]).c_str(), fmt(q[1]).c_str(),
                fmt(q[2]).c_str(), mb(hf).c_str(), mb(t50).c_str(), mb(t100).c_str(),
                mb(t200).c_str(), ratio(q[0], hf).c_str(), ratio(q[0], t50).c_str(),
                ratio(q[1], t100).c_str(), ratio(q[2], t200).c_str());
  }

  // Blow-up check: 1 MiB documents without whitespace, per-byte time vs English.
  const size_t big = a.smoke ? 64 * 1024 : 1 << 20;
  std::string repeated(big, 'a'), b64(big, 'A');
  std::mt19937_64 rng(42);
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (auto& c : b64) c = alphabet[rng() % 64];
  std::printf("\n| %zu KiB without whitespace | gpt2 | cl100k | o200k |\n|---|---:|---:|---:|\n",
              big >> 10);
  for (auto [label, text] :
       {std::pair{"'a' repeated", &repeated}, std::pair{"random base64", &b64}}) {
    std::string row = "| ";
    row.append(label);
    row.append(" per-byte time / English |");
    for (int k = 0; k < 3; ++k) {
      std::vector<double> v;
      for (int r = 0; r < std::max(1, a.runs); ++r)
        v.push_back(encode_seconds(*toks[size_t(k)].bpe, {*text}, nullptr));
      row.append(" ");
      row.append(fmt(median(v) / double(big) / en_sec_per_byte[k], 2));
      row.append("x |");
    }
    std::printf("%s\n", row.c_str());
  }
  {
    // Linearity: the same random text cut into 16 documents costs the same per byte as one.
    std::vector<std::string> parts;
    for (size_t i = 0; i < 16; ++i) parts.push_back(b64.substr(i * big / 16, big / 16));
    std::string row =
        "| random base64, one " + std::to_string(big >> 10) + " KiB document / as 16 documents |";
    for (int k = 0; k < 3; ++k) {
      std::vector<double> whole, cut;
      for (int r = 0; r < std::max(1, a.runs); ++r) {
        whole.push_back(encode_seconds(*toks[size_t(k)].bpe, {b64}, nullptr));
        cut.push_back(encode_seconds(*toks[size_t(k)].bpe, parts, nullptr));
      }
      row.append(" ");
      row.append(fmt(median(whole) / median(cut), 2));
      row.append("x |");
    }
    std::printf("%s\n", row.c_str());
  }

  // A multi-document job on 2 threads vs 1 (one shared instance). Wall time is the target but
  // only means something on idle cores; the CPU-time ratio shows whether the threads slow
  // each other down (1.00: they do not, so 2 idle cores would give 2x).
  std::printf(
      "\n| en job, gpt2, one instance | 1 thread | 2 threads | ratio |\n"
      "|---|---:|---:|---:|\n");
  {
    std::vector<double> w1, w2, c1, c2;
    for (int r = 0; r < std::max(1, a.runs); ++r) {
      const JobTime one = job_seconds(*toks[0].bpe, en_docs, 1);
      const JobTime two = job_seconds(*toks[0].bpe, en_docs, 2);
      w1.push_back(one.wall), c1.push_back(one.cpu), w2.push_back(two.wall), c2.push_back(two.cpu);
    }
    std::printf("| wall s, %zu documents, %.2f MB (speed-up) | %.3f | %.3f | %.2fx |\n",
                en_docs.size(), total_bytes(en_docs) / 1e6, median(w1), median(w2),
                median(w1) / median(w2));
    std::printf("| CPU s of all threads (1 thread / 2 threads) | %.3f | %.3f | %.2f |\n",
                median(c1), median(c2), median(c1) / median(c2));
    std::printf("\nload average at the end: %s\n", load_average().c_str());
  }
  return 0;
}
