// The BPE configurations under test and their golden names.
#pragma once

#include <memory>
#include <string>

#include "factory.hpp"

namespace qkv::bpe::test {

struct Source {
  std::string name;      // test name part
  std::string golden;    // golden encoding name: r50k_base, cl100k_base, o200k_base
  bool hf = false;       // tokenizer.json: specials matched by default
};

inline const Source kSources[] = {
    {"r50k_tiktoken", "r50k_base"}, {"gpt2_files", "r50k_base"}, {"gpt2_hf", "r50k_base", true},
    {"cl100k", "cl100k_base"},      {"o200k", "o200k_base"}};

BpeConfig config_for(const std::string& source);
// Loaded once per process and shared (the instance is immutable).
const Bpe& tokenizer(const std::string& source);

}  // namespace qkv::bpe::test
