// A double-array trie over bytes: one array read per input byte, no allocation at lookup.
// Used for WordPiece's greedy longest-match-first.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vocab_image/image_bytes.hpp"

namespace qkv::wordpiece {

class DoubleArrayTrie {
 public:
  // keys: (bytes, value >= 0). Duplicate keys: the last value wins.
  explicit DoubleArrayTrie(const std::vector<std::pair<std::string, int32_t>>& keys);
  DoubleArrayTrie() = default;

  static constexpr int32_t kRoot = 0;

  // Follows one byte from `state`; returns the next state or -1.
  int32_t step(int32_t state, uint8_t byte) const {
    const int32_t t = cells_[state].base + byte;
    return (cells_[t].check & kCheckMask) == static_cast<uint32_t>(state) ? t : -1;
  }
  int32_t value(int32_t state) const { return values_[state]; }

  // State reached from `from` over `s`, or -1.
  int32_t walk(int32_t from, std::string_view s) const {
    int32_t st = from;
    for (unsigned char c : s) {
      st = step(st, c);
      if (st < 0) return -1;
    }
    return st;
  }

  // Longest key starting at `s` (walking from `from`): returns its value and sets *len to its
  // byte length; -1 when no prefix of s is a key. The value array is read only at key ends.
  int32_t longest(int32_t from, const char* s, size_t n, size_t* len) const {
    int32_t st = from, best = -1;
    for (size_t i = 0; i < n; ++i) {
      const int32_t t = cells_[st].base + static_cast<uint8_t>(s[i]);
      const uint32_t check = cells_[t].check;
      if ((check & kCheckMask) != static_cast<uint32_t>(st)) break;
      st = t;
      if (check & kHasValue) {
        best = values_[st];
        *len = i + 1;
      }
    }
    return best;
  }

  size_t cells() const { return cells_.size(); }

  // The arrays as a vocabulary image's section, and back. load checks what lookups rely on:
  // every cell's base + 256 <= cells (a step never leaves the array), and every value in
  // [-1, vocab) (>= 0 exactly at key ends); throws image::ImageError otherwise.
  void save(image::ImageWriter& out) const;
  static DoubleArrayTrie load(image::ImageReader& in, size_t vocab);

 private:
  // 8 bytes, so 8 cells share a cache line: the walk is bound by these loads.
  static constexpr uint32_t kHasValue = 0x80000000u;  // in check: the state ends a key
  static constexpr uint32_t kCheckMask = 0x7fffffffu;
  static constexpr uint32_t kFree = kCheckMask;  // no state has this index
  struct Cell {
    int32_t base = 0;
    uint32_t check = kFree;  // parent state | kHasValue
  };
  std::vector<Cell> cells_;
  std::vector<int32_t> values_;
};

}  // namespace qkv::wordpiece
