#include "generate_options.hpp"

#include "section.hpp"

namespace qkv::config {

const char* to_string(GenerateOptions::Strategy s) {
  switch (s) {
    case GenerateOptions::Strategy::greedy:
      return "greedy";
    case GenerateOptions::Strategy::sample:
      return "sample";
    case GenerateOptions::Strategy::beam:
      return "beam";
  }
  return "?";
}

void read_generate(Section& s, GenerateOptions& g) {
  using S = GenerateOptions::Strategy;
  if (auto v = s.integer("max_new_tokens", 1, 1 << 20)) g.max_new_tokens = uint32_t(*v);
  if (auto v = s.choice("strategy", {"greedy", "sample", "beam"}))
    g.strategy = *v == "sample" ? S::sample : *v == "beam" ? S::beam : S::greedy;
  if (auto v = s.number("temperature", 0.0, 1e6)) g.temperature = *v;
  if (auto v = s.integer("top_k", 0, 1 << 30)) g.top_k = uint32_t(*v);
  if (auto v = s.number("top_p", 0.0, 1.0)) {
    if (*v == 0.0)
      s.error("top_p", "expected a number in (0, 1], got 0");
    else
      g.top_p = *v;
  }
  if (auto v = s.number("repetition_penalty", 1e-6, 1e6)) g.repetition_penalty = *v;
  if (auto v = s.integer("seed", 0, INT64_MAX)) g.seed = uint64_t(*v);
  if (auto v = s.integer("num_beams", 1, 64)) g.num_beams = uint32_t(*v);
  if (auto v = s.number("length_penalty", -1e3, 1e3)) g.length_penalty = *v;
  if (auto v = s.boolean("early_stopping")) g.early_stopping = *v;
  if (s.has("stop")) {
    // One string or a list of them (`--set generate.stop=...` gives one).
    YAML::Node n = s.raw("stop");
    if (n.IsScalar()) {
      g.stop = {n.Scalar()};
    } else if (auto v = s.string_list("stop")) {
      g.stop = *v;
    }
    for (const auto& str : g.stop)
      if (str.empty()) s.error("stop", "expected non-empty stop strings");
  }
  if (auto v = s.boolean("add_bos")) g.add_bos = *v;
  if (auto v = s.boolean("logprobs")) g.logprobs = *v;
  if (auto v = s.integer("max_cache_tokens", 1, int64_t{1} << 40))
    g.max_cache_tokens = uint64_t(*v);
  if (auto v = s.integer("max_pending_documents", 1, 1 << 24))
    g.max_pending_documents = uint32_t(*v);
}

}  // namespace qkv::config
