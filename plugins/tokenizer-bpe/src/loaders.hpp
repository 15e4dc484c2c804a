// Reading vocabularies into a BpeSpec: tiktoken rank files, GPT-2 encoder.json + vocab.bpe,
// HuggingFace tokenizer.json. Errors name the file and, where there is one, the line.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "bpe.hpp"

namespace qkv::bpe {

class LoadError : public std::runtime_error {
 public:
  LoadError(bool io, const std::string& message) : std::runtime_error(message), io_(io) {}
  bool io() const noexcept { return io_; }  // the file cannot be read (vs. malformed)

 private:
  bool io_;
};

// Pattern and special tokens of a named encoding: r50k_base, gpt2, cl100k_base, o200k_base.
struct Encoding {
  Pattern pattern;
  std::vector<BpeSpec::Token> specials;
};
std::optional<Encoding> builtin_encoding(std::string_view name);

// A vocabulary file's bytes; LoadError(io) naming it when it cannot be read.
std::string read_vocab_file(const std::string& path);

// tiktoken: "base64 rank" lines. Pattern and specials are the caller's (from the encoding).
BpeSpec load_tiktoken(const std::string& path);
// GPT-2: encoder.json (byte-alphabet string -> id) and vocab.bpe merges.
BpeSpec load_gpt2(const std::string& encoder_json, const std::string& vocab_bpe);
// HuggingFace tokenizer.json: BPE model, ByteLevel / Split pre-tokenizers, added tokens.
BpeSpec load_tokenizer_json(const std::string& path);

// GPT-2's byte alphabet: the text of a byte-level token -> its bytes (nullopt if a character
// is outside the alphabet).
std::optional<std::string> byte_level_to_bytes(std::string_view text);

}  // namespace qkv::bpe
