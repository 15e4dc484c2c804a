#include "tokenizers.hpp"

#include <map>
#include <mutex>
#include <stdexcept>

#include "test_data.hpp"

namespace qkv::bpe::test {

BpeConfig config_for(const std::string& source) {
  BpeConfig c;
  if (source == "r50k_tiktoken") {
    c.encoding = "r50k_base";
    c.ranks = vocab("r50k_base.tiktoken");
  } else if (source == "gpt2_files") {
    c.encoding = "gpt2";
    c.encoder_json = vocab("gpt2/encoder.json");
    c.vocab_bpe = vocab("gpt2/vocab.bpe");
  } else if (source == "gpt2_hf") {
    c.tokenizer_json = vocab("gpt2/tokenizer.json");
  } else if (source == "cl100k") {
    c.encoding = "cl100k_base";
    c.ranks = vocab("cl100k_base.tiktoken");
  } else if (source == "o200k") {
    c.encoding = "o200k_base";
    c.ranks = vocab("o200k_base.tiktoken");
  } else {
    throw std::invalid_argument("unknown test source " + source);
  }
  return c;
}

const Bpe& tokenizer(const std::string& source) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Bpe>> cache;
  std::lock_guard lock(mu);
  auto& slot = cache[source];
  if (!slot) slot = make_bpe(config_for(source));
  return *slot;
}

}  // namespace qkv::bpe::test
