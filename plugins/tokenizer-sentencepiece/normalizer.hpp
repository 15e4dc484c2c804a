// Normalizer: SentencePiece's normalizer::Normalizer::Normalize, byte for byte — user-defined
// symbols kept verbatim, the precompiled charsmap's longest rule, invalid UTF-8 bytes to U+FFFD
// (one per byte), then add_dummy_prefix, remove_extra_whitespaces and escape_whitespaces.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "charsmap.hpp"
#include "model_spec.hpp"
#include "piece_trie.hpp"

namespace qkv::sentencepiece {

inline constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // U+2581 '▁'

class Normalizer {
 public:
  // `user_symbols` (may be empty) outlives the normalizer.
  Normalizer(const ModelSpec& spec, const PieceTrie& user_symbols);

  // Replaces `out` with the normalized text. When `norm_to_orig` is given it receives, for each
  // byte of `out` and one past the end, the offset in `input` it came from.
  void normalize(std::string_view input, std::string& out,
                 std::vector<uint32_t>* norm_to_orig) const;

 private:
  // One normalization step at the start of `input`: the replacement and the bytes consumed.
  std::string_view normalize_prefix(std::string_view input, size_t& consumed) const;

  Charsmap charsmap_;
  const PieceTrie& user_symbols_;
  bool add_dummy_prefix_, remove_extra_whitespaces_, escape_whitespaces_;
  bool special_byte_[256] = {};  // a charsmap rule or a user symbol may start here
};

// SentencePiece's string_util::DecodeUTF8 validity: the length of the valid character at the
// start of `s`, or 0 when the first byte starts no valid character.
size_t valid_utf8_length(std::string_view s);

}  // namespace qkv::sentencepiece
