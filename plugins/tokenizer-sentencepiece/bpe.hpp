// BPE segmentation as sentencepiece::bpe::Model::Encode: start from characters (user-defined
// symbols whole and frozen), repeatedly merge the adjacent pair whose merged piece scores best
// (ties: leftmost), unused pieces split back into their halves.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "vocabulary.hpp"

namespace qkv::sentencepiece {

class BpeSegmenter {
 public:
  explicit BpeSegmenter(const Vocabulary& vocab);
  // Appends the segments of `normalized` to `out`, left to right. Thread-safe.
  void segment(std::string_view normalized, std::vector<Token>& out) const;

 private:
  struct Merge {
    int32_t id = -1;  // merged piece
    float score = 0;
  };
  Merge find_merge(int32_t left, int32_t right) const {
    const uint64_t key = pair_key(left, right);
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == key) return merges_[i];
      if (keys_[i] == kEmpty) return Merge{};
    }
  }
  static uint64_t pair_key(int32_t l, int32_t r) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
  }
  static size_t hash(uint64_t k) { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> 24); }
  void add_merge(int32_t left, int32_t right, int32_t merged, float score);
  // BPE over one stretch no piece crosses; appends (id, byte length) pairs.
  void segment_chunk(std::string_view chunk, std::vector<std::pair<int32_t, uint32_t>>& out) const;
  void emit(int32_t id, uint32_t begin, uint32_t end, std::vector<Token>& out) const;

  static constexpr uint64_t kEmpty = ~0ull;
  const Vocabulary& vocab_;
  std::vector<uint64_t> keys_;
  std::vector<Merge> merges_;
  size_t mask_ = 0;
  // For unused pieces: the halves they are split back into.
  std::vector<std::pair<int32_t, int32_t>> unused_halves_;
  // True when no piece holds U+2581 right after another character: the text then splits before
  // every '▁' that follows a non-'▁', and the stretches can be merged (and cached) one by one.
  bool chunkable_ = true;
};

}  // namespace qkv::sentencepiece
