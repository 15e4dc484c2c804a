// darts-clone unit layout (darts.h, DoubleArrayUnit): bit 8 has_leaf; value = low 31 bits;
// label = bit 31 | low 8 bits; offset = (unit >> 10) << ((unit & (1 << 9)) >> 6).
#include "charsmap.hpp"

#include <cstring>
#include <stdexcept>

namespace qkv::sentencepiece {
namespace {

inline bool has_leaf(uint32_t u) { return (u >> 8) & 1; }
inline uint32_t value_of(uint32_t u) { return u & ((1u << 31) - 1); }
inline uint32_t label_of(uint32_t u) { return u & ((1u << 31) | 0xFF); }
inline uint32_t offset_of(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

}  // namespace

Charsmap::Charsmap(std::string_view blob) {
  if (blob.empty()) return;
  uint32_t trie_bytes = 0;
  if (blob.size() < 4) throw std::runtime_error("precompiled_charsmap shorter than its header");
  std::memcpy(&trie_bytes, blob.data(), 4);
  if (trie_bytes % 4 != 0 || trie_bytes > blob.size() - 4 || trie_bytes == 0)
    throw std::runtime_error("precompiled_charsmap: trie size " + std::to_string(trie_bytes) +
                             " does not fit the " + std::to_string(blob.size()) + "-byte blob");
  units_.resize(trie_bytes / 4);
  std::memcpy(units_.data(), blob.data() + 4, trie_bytes);
  replacements_ = std::string(blob.substr(4 + trie_bytes));
  replacements_.push_back('\0');  // every value then points at a terminated string
  for (int b = 0; b < 256; ++b) {
    const size_t root = offset_of(units_[0]) ^ static_cast<size_t>(b);
    first_byte_[b] = root < units_.size() && label_of(units_[root]) == static_cast<uint32_t>(b);
  }
}

size_t Charsmap::longest_match(std::string_view input, std::string_view& replacement) const {
  constexpr size_t kMaxResults = 32;  // SentencePiece's kMaxTrieResultsSize
  size_t node = offset_of(units_[0]);
  size_t found = 0, best_len = 0;
  uint32_t best_value = 0;
  for (size_t i = 0; i < input.size(); ++i) {
    const auto c = static_cast<uint8_t>(input[i]);
    node ^= c;
    if (node >= units_.size()) break;
    const uint32_t unit = units_[node];
    if (label_of(unit) != c) break;
    node ^= offset_of(unit);
    if (has_leaf(unit)) {
      if (node >= units_.size()) break;
      if (found < kMaxResults) {
        best_len = i + 1;  // matches come in increasing length
        best_value = value_of(units_[node]);
      }
      ++found;
    }
  }
  if (best_len == 0) return 0;
  if (best_value >= replacements_.size())
    throw std::runtime_error("precompiled_charsmap: replacement offset past the blob");
  replacement = std::string_view(replacements_.data() + best_value);
  return best_len;
}

}  // namespace qkv::sentencepiece
