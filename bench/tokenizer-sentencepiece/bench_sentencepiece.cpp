// tokenizer-sentencepiece benchmark: qkv's SentencePiece core against the SentencePiece library
// (python3-sentencepiece, peer_sentencepiece.py) and HF tokenizers' native binding
// (peer_hf.mjs), single thread, whole corpus per language, plus 1 MiB documents without spaces (64
// KiB in smoke mode).
//
//   qkv_bench_sentencepiece [--runs N] [--peer sp.json] [--hf hf.json]   full (run.sh feeds peers)
//   qkv_bench_sentencepiece --smoke                                     small inputs, no peers
//
// Figures are thread CPU time (the machine is shared: wall time would measure the neighbours).
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "model_spec.hpp"
#include "machine.hpp"
#include "sentencepiece_tokenizer.hpp"

namespace {

using qkv::sentencepiece::EncodeParams;
using qkv::sentencepiece::SentencePieceTokenizer;

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

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

size_t total_bytes(const std::vector<std::string>& docs) {
  size_t n = 0;
  for (const auto& d : docs) n += d.size();
  return n;
}

// Median thread-CPU seconds of `runs` passes over docs after a warm-up pass; *ids = ids per pass.
double time_single(const SentencePieceTokenizer& tok, const std::vector<std::string>& docs,
                   int runs, size_t* ids) {
  std::vector<int32_t> out;
  auto pass = [&] {
    size_t n = 0;
    for (const auto& d : docs) {
      tok.encode(d, EncodeParams{}, out);
      n += out.size();
    }
    return n;
  };
  *ids = pass();
  std::vector<double> t;
  for (int r = 0; r < runs; ++r) {
    const double c0 = thread_cpu_seconds();
    pass();
    t.push_back(thread_cpu_seconds() - c0);
  }
  return median(t);
}

std::string random_text(size_t n, const char* alphabet, uint32_t seed) {
  std::mt19937 rng(seed);
  const size_t k = std::strlen(alphabet);
  std::string s(n, 'a');
  for (auto& c : s) c = alphabet[rng() % k];
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  bool smoke = false;
  int runs = 5;
  std::string sp_file, hf_file;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--smoke") {
      smoke = true;
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--peer" && i + 1 < argc) {
      sp_file = argv[++i];
    } else if (a == "--hf" && i + 1 < argc) {
      hf_file = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--smoke] [--runs N] [--peer sp.json] [--hf hf.json]\n",
                   argv[0]);
      return 2;
    }
  }
  if (smoke) runs = 1;
  qkv::bench::print_machine();
  std::printf("\n");
  try {
    nlohmann::json sp, hf;
    if (!sp_file.empty()) sp = nlohmann::json::parse(slurp(sp_file));
    if (!hf_file.empty()) hf = nlohmann::json::parse(slurp(hf_file));
    const size_t limit = smoke ? 8 : static_cast<size_t>(-1);
    bool ok = true;
    std::printf("SentencePiece, single thread, thread CPU time, median of %d\n\n", runs);
    std::printf(
        "| model | input | MB | SentencePiece lib MB/s | HF tokenizers MB/s | qkv MB/s | "
        "qkv / lib | ids equal lib |\n");
    std::printf("|---|---|---:|---:|---:|---:|---:|---|\n");
    for (const char* model : {"unigram-8k", "bpe-6k-llama"}) {
      SentencePieceTokenizer tok(qkv::sentencepiece::load_model_proto(
          slurp(std::string(QKV_SOURCE_DIR) + "/data/vocab/sentencepiece/" + model +
                "/tokenizer.model")));
      double en_ns_per_byte = 0;
      for (const char* lang : {"en", "zh", "code", "ru"}) {
        const auto docs = read_docs(lang, limit);
        size_t ids = 0;
        const double s = time_single(tok, docs, runs, &ids);
        const double bytes = static_cast<double>(total_bytes(docs));
        const double mbps = bytes / 1e6 / s;
        if (std::string(lang) == "en") en_ns_per_byte = s * 1e9 / bytes;
        if (ids == 0) ok = false;
        std::string lib = "-", hfs = "-", ratio = "-", same = "-";
        char buf[64];
        if (sp.contains(model) && sp[model]["mbps"].contains(lang)) {
          const double v = sp[model]["mbps"][lang].get<double>();
          std::snprintf(buf, sizeof buf, "%.2f", v);
          lib = buf;
          std::snprintf(buf, sizeof buf, "**%.1fx**", mbps / v);
          ratio = buf;
          const bool eq = sp[model]["ids"][lang].get<size_t>() == ids;
          ok &= eq;
          same = eq ? "yes" : "NO";
        }
        if (hf.contains(model) && hf[model]["mbps"].contains(lang)) {
          std::snprintf(buf, sizeof buf, "%.2f", hf[model]["mbps"][lang].get<double>());
          hfs = buf;
        }
        std::printf("| %s | %s | %.2f | %s | %s | %.1f | %s | %s |\n", model, lang, bytes / 1e6,
                    lib.c_str(), hfs.c_str(), mbps, ratio.c_str(), same.c_str());
      }
      const size_t long_size = smoke ? (64u << 10) : (1u << 20);
      const std::pair<const char*, std::string> longs[] = {
          {"one letter ('a' run)", std::string(long_size, 'a')},
          {"random lowercase", random_text(long_size, "abcdefghijklmnopqrstuvwxyz", 7)},
          {"Chinese without spaces", [&] {
             std::string s;
             const auto han = read_docs("zh", limit);
             for (const auto& d : han)
               for (char c : d)
                 if (c != ' ' && c != '\n' && s.size() < long_size) s.push_back(c);
             return s;
           }()}};
      for (const auto& [name, text] : longs) {
        size_t ids = 0;
        const double s = time_single(tok, {text}, runs, &ids);
        const double ns = s * 1e9 / static_cast<double>(text.size());
        std::printf("| %s | %s | %.2f | | | %.1f | %.2fx English ns/byte | |\n", model, name,
                    static_cast<double>(text.size()) / 1e6, text.size() / 1e6 / s,
                    ns / en_ns_per_byte);
        if (ids == 0) ok = false;
      }
    }
    if (!ok) {
      std::fprintf(stderr, "bench: an input gave no ids, or ids differ from the library's\n");
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
