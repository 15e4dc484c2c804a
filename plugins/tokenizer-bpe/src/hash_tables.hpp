// Open-addressing tables for the two lookups on the hot path: token bytes -> id, and an
// adjacent id pair -> (merge rank, merged id).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace qkv::bpe {

inline uint64_t mix(uint64_t h) noexcept {
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  return h;
}

inline uint64_t hash_bytes(const unsigned char* p, size_t n) noexcept {
  uint64_t h = 0x9E3779B97F4A7C15ull * (n + 1);
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n) {
    uint64_t v = 0;
    // Tail of 1..7 bytes without a variable-length memcpy call.
    if (n >= 4) {
      uint32_t lo, hi;
      std::memcpy(&lo, p, 4);
      std::memcpy(&hi, p + n - 4, 4);
      v = lo | (uint64_t(hi) << 32);
    } else {
      v = p[0] | (uint64_t(p[n / 2]) << 8) | (uint64_t(p[n - 1]) << 16);
    }
    h = (h ^ v) * 0x94d049bb133111ebull;
  }
  return mix(h);
}

// Token bytes -> id. The bytes live in the owner's arena, found through `bytes_of(id)`.
class TokenMap {
 public:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  static constexpr uint32_t kPieceFlag = 0x80000000u;  // entry may stand for a whole piece

  void reserve(size_t n);
  // `bytes` must stay valid (it points into the owner's arena).
  void insert(std::string_view bytes, uint32_t id, bool whole_piece);
  void set_whole_piece(std::string_view bytes, bool whole_piece);

  // Id of exactly these bytes, or kNone; `piece_only` skips entries without the piece flag.
  uint32_t find(const unsigned char* p, size_t n, bool piece_only) const noexcept {
    const uint64_t h = hash_bytes(p, n);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Entry& e = slots_[i];
      if (e.id == kNone) return kNone;
      if (e.hash == h && (e.len & ~kPieceFlag) == n && std::memcmp(e.bytes, p, n) == 0)
        return (piece_only && !(e.len & kPieceFlag)) ? kNone : e.id;
    }
  }

 private:
  struct Entry {
    uint64_t hash;
    const char* bytes;
    uint32_t id = kNone;
    uint32_t len;
  };
  std::vector<Entry> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

// (left id, right id) -> merge rank and merged id.
class PairTable {
 public:
  struct Merge {
    uint32_t rank;
    uint32_t id;
  };
  static constexpr uint32_t kNoRank = 0xFFFFFFFFu;

  void reserve(size_t n);
  // Later inserts of the same pair win (as a map built from the merge list in order).
  void insert(uint32_t left, uint32_t right, Merge merge);

  Merge find(uint32_t left, uint32_t right) const noexcept {
    const uint64_t key = (uint64_t(left) << 32) | right;
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      const Entry& e = slots_[i];
      if (e.key == key) return e.merge;
      if (e.key == kEmpty) return {kNoRank, 0};
    }
  }
  size_t size() const noexcept { return count_; }
  uint32_t max_rank() const noexcept { return max_rank_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Entry {
    uint64_t key = kEmpty;
    Merge merge;
  };
  size_t slot(uint64_t key) const noexcept { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
  void grow();
  std::vector<Entry> slots_;
  size_t mask_ = 0;
  unsigned shift_ = 64;
  size_t count_ = 0;
  uint32_t max_rank_ = 0;
};

}  // namespace qkv::bpe
