// The precompiled charsmap of a NormalizerSpec: a darts-clone double-array trie over source
// strings whose values index a blob of NUL-terminated replacement strings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::sentencepiece {

class Charsmap {
 public:
  Charsmap() = default;
  // `blob` = uint32 little-endian trie size in bytes, the trie units, the replacements.
  // Throws std::runtime_error when the layout is inconsistent.
  explicit Charsmap(std::string_view blob);

  bool empty() const { return units_.empty(); }
  // Longest rule matching a prefix of `input` (darts commonPrefixSearch, as SentencePiece uses
  // it: at most the first 32 matches count). Returns the matched length (0: none) and sets
  // `replacement`.
  size_t longest_match(std::string_view input, std::string_view& replacement) const;
  // True when some rule starts with byte b (lets ASCII skip the trie).
  bool starts_rule(uint8_t b) const { return first_byte_[b]; }

 private:
  std::vector<uint32_t> units_;
  std::string replacements_;
  bool first_byte_[256] = {};
};

}  // namespace qkv::sentencepiece
