// The BPE configurations under test: through the real plugin .so (host registry) and, for
// white-box unit tests, the core library directly.
#pragma once

#include <memory>
#include <string>

#include "factory.hpp"
#include "host/tokenizer_handle.hpp"

namespace qkv::bpe::test {

struct Source {
  std::string name;    // test name part
  std::string golden;  // golden encoding name: r50k_base, cl100k_base, o200k_base
  bool hf = false;     // tokenizer.json: specials matched by default
};

inline const Source kSources[] = {{"r50k_tiktoken", "r50k_base"},
                                  {"gpt2_files", "r50k_base"},
                                  {"gpt2_hf", "r50k_base", true},
                                  {"cl100k", "cl100k_base"},
                                  {"o200k", "o200k_base"}};

// The core library, loaded once per process (immutable, shared by threads).
BpeConfig config_for(const std::string& source);
const Bpe& tokenizer(const std::string& source);

// The same configuration as a pipeline would give it: the plugin .so loaded by the host's
// registry, its config subtree with paths relative to data/vocab.
const qkv::host::TokenizerHandle& plugin(const std::string& source);

}  // namespace qkv::bpe::test
