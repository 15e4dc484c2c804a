// The `generate:` section of a pipeline (docs/pipelines.md, docs/formats.md "generation
// jsonl"): how a generation pipeline continues each document. Read by read_generate
// (config/generate_options.cpp) from pipeline_config.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qkv::config {

class Section;

struct GenerateOptions {
  enum class Strategy { greedy, sample, beam };
  uint32_t max_new_tokens = 32;
  Strategy strategy = Strategy::greedy;
  double temperature = 1.0;  // sample: 0 = greedy
  uint32_t top_k = 0;        // 0: off
  double top_p = 1.0;        // 1: off
  double repetition_penalty = 1.0;
  uint64_t seed = 0;
  uint32_t num_beams = 4;
  double length_penalty = 1.0;
  bool early_stopping = false;
  std::vector<std::string> stop;  // stop strings
  bool add_bos = false;
  bool logprobs = false;
  uint64_t max_cache_tokens = 65536;   // KV-cache tokens of all live sequences
  uint32_t max_pending_documents = 0;  // 0: 4 x batch.documents
};

const char* to_string(GenerateOptions::Strategy s);

// Reads the section's keys into `g` (diagnostics through the Section).
void read_generate(Section& s, GenerateOptions& g);

}  // namespace qkv::config
