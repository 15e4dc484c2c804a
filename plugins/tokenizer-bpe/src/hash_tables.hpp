// Open-addressing tables for the two lookups on the hot path: token bytes -> id, and an
// adjacent id pair -> (merge rank, merged id).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "huge_array.hpp"
#include "vocab_image/image_bytes.hpp"

namespace qkv::bpe {

using image::ImageError;
using image::ImageReader;
using image::ImageWriter;

inline uint64_t mix(uint64_t h) noexcept {
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  return h;
}

// The first min(n, 8) bytes as a little-endian word, zero-padded, without reading past p + n.
inline uint64_t load_word(const unsigned char* p, size_t n) noexcept {
  if (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  if (n >= 4) {  // two overlapping 4-byte loads; the overlap ORs equal bytes
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + n - 4, 4);
    return lo | (uint64_t(hi) << (8 * (n - 4)));
  }
  uint64_t v = p[0];
  if (n > 1) v |= uint64_t(p[1]) << 8;
  if (n > 2) v |= uint64_t(p[2]) << 16;
  return v;
}

inline uint64_t hash_bytes(const unsigned char* p, size_t n) noexcept {
  uint64_t h = (load_word(p, n) ^ (n * 0x9E3779B97F4A7C15ull)) * 0xbf58476d1ce4e5b9ull;
  for (size_t i = 8; i < n; i += 8) {
    uint64_t v;
    if (i + 8 <= n) {
      std::memcpy(&v, p + i, 8);
    } else {
      v = load_word(p + i, n - i);
    }
    h = (h ^ (h >> 29) ^ v) * 0x94d049bb133111ebull;
  }
  return mix(h);
}

// Token bytes -> id. A one-byte tag per slot (0 = empty, else 7 hash bits | 0x80) is probed
// first: the tag array is small enough to stay in cache, so a lookup that misses (most pieces
// that are not one token) rarely touches the entries. Entries keep the first 8 bytes inline;
// longer keys compare their rest against the owner's arena.
class TokenMap {
 public:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  static constexpr uint32_t kPieceFlag = 0x80000000u;  // entry may stand for a whole piece

  // `arena` + `offsets` give each id's bytes (offsets[id] .. offsets[id + 1]); they must
  // outlive the map.
  void reset(size_t n, const char* arena, const uint32_t* offsets);
  void insert(uint32_t id, bool whole_piece);
  void set_whole_piece(uint32_t id, bool whole_piece);
  // The table as image bytes, and back. load checks every slot against `vocab` ids whose
  // bytes are arena + offsets (already checked), so no later find reads out of bounds or
  // probes forever; throws ImageError.
  void save(ImageWriter& out) const;
  void load(ImageReader& in, size_t vocab, const char* arena, const uint32_t* offsets);

  // Id of exactly these bytes, or kNone; `piece_only` skips entries without the piece flag.
  uint32_t find(const unsigned char* p, size_t n, bool piece_only) const noexcept {
    return find_hashed(p, n, hash_bytes(p, n), piece_only);
  }
  // Starts loading the cache lines a find with hash h reads first.
  void prefetch(uint64_t h) const noexcept {
    __builtin_prefetch(&tags_[h & mask_]);
    __builtin_prefetch(&slots_[h & mask_]);
  }
  // Same, with h = hash_bytes(p, n) computed by the caller.
  uint32_t find_hashed(const unsigned char* p, size_t n, uint64_t h,
                       bool piece_only) const noexcept {
    const uint64_t w = load_word(p, n);
    const uint8_t tag = tag_of(h);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint8_t t = tags_[i];
      if (t == 0) return kNone;
      if (t != tag) continue;
      const Entry& e = slots_[i];
      if (e.word == w && (e.len & ~kPieceFlag) == n &&
          (n <= 8 || std::memcmp(arena_ + offsets_[e.id] + 8, p + 8, n - 8) == 0))
        return (piece_only && !(e.len & kPieceFlag)) ? kNone : e.id;
    }
  }

 private:
  struct Entry {
    uint64_t word;
    uint32_t id = kNone;
    uint32_t len;
  };
  static uint8_t tag_of(uint64_t h) noexcept { return uint8_t(h >> 57) | 0x80; }
  size_t slot_of(uint32_t id) const noexcept;  // the entry of an inserted id
  HugeArray<uint8_t> tags_;
  HugeArray<Entry> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
  const char* arena_ = nullptr;
  const uint32_t* offsets_ = nullptr;
};

// (left id, right id) -> merge rank, and rank -> merged id. Entries are one packed word
// (left 21 bits | right 21 bits | rank 22 bits), half the cache footprint of a key/value pair:
// merging is bound by misses in this table. tiktoken vocabularies merge to the token whose id
// is the rank, so the rank -> id array is only kept when they differ (merge lists).
class PairTable {
 public:
  struct Merge {
    uint32_t rank;
    uint32_t id;
  };
  static constexpr uint32_t kNoRank = 0xFFFFFFFFu;
  static constexpr uint32_t kMaxId = (1u << 21) - 2, kMaxRank = (1u << 22) - 2;

  void reserve(size_t n);
  // Later inserts of the same pair win (as a map built from the merge list in order). Throws
  // std::invalid_argument past kMaxId / kMaxRank.
  void insert(uint32_t left, uint32_t right, Merge merge);

  void prefetch(uint32_t left, uint32_t right) const noexcept {
    __builtin_prefetch(&slots_[slot(key_of(left, right))]);
  }
  uint32_t rank(uint32_t left, uint32_t right) const noexcept {
    const uint64_t key = key_of(left, right);
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      const uint64_t e = slots_[i];
      if ((e >> 22) == key) return uint32_t(e & kRankMask);
      if (e == kEmpty) return kNoRank;
    }
  }
  uint32_t result(uint32_t rank) const noexcept { return results_.empty() ? rank : results_[rank]; }
  Merge find(uint32_t left, uint32_t right) const noexcept {
    const uint32_t r = rank(left, right);
    return {r, r == kNoRank ? 0 : result(r)};
  }
  size_t size() const noexcept { return count_; }
  uint32_t max_rank() const noexcept { return max_rank_; }
  // As TokenMap: load checks each rank against max_rank, each id against `vocab`, and that a
  // merged token is as long as its two parts (offsets: the ids' byte ranges), so offsets
  // computed from token lengths stay within the text.
  void save(ImageWriter& out) const;
  void load(ImageReader& in, size_t vocab, const uint32_t* offsets);

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static constexpr uint64_t kRankMask = (uint64_t{1} << 22) - 1;
  static constexpr uint64_t kMaxId21 = (uint64_t{1} << 21) - 1;  // one id field of a key
  static uint64_t key_of(uint32_t left, uint32_t right) noexcept {
    return (uint64_t(left) << 21) | right;
  }
  size_t slot(uint64_t key) const noexcept { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
  void grow();
  void place(uint64_t key, uint32_t rank);
  HugeArray<uint64_t> slots_;
  std::vector<uint32_t> results_;  // rank -> merged id; empty while every merge gives id == rank
  size_t mask_ = 0;
  unsigned shift_ = 64;
  size_t count_ = 0;
  uint32_t max_rank_ = 0;
};

}  // namespace qkv::bpe
