#include "hash_tables.hpp"

#include <algorithm>
#include <bit>
#include <stdexcept>

namespace qkv::bpe {

void TokenMap::reset(size_t n, const char* arena, const uint32_t* offsets) {
  // Load up to 0.8: a smaller table misses the cache less, and probes stay short.
  const size_t cap = std::bit_ceil(n + n / 4 + 16);
  tags_.assign(cap, 0);
  slots_.assign(cap, Entry{});
  mask_ = cap - 1;
  count_ = 0;
  arena_ = arena;
  offsets_ = offsets;
}

void TokenMap::insert(uint32_t id, bool whole_piece) {
  if (count_ + 1 >= slots_.size()) throw std::logic_error("TokenMap: reset too small");
  const auto* p = reinterpret_cast<const unsigned char*>(arena_ + offsets_[id]);
  const size_t n = offsets_[id + 1] - offsets_[id];
  if (find(p, n, false) != kNone) throw std::invalid_argument("duplicate token bytes");
  const uint64_t h = hash_bytes(p, n);
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    Entry& e = slots_[i];
    if (e.id == kNone) {
      e = Entry{load_word(p, n), id, uint32_t(n) | (whole_piece ? kPieceFlag : 0)};
      tags_[i] = tag_of(h);
      ++count_;
      return;
    }
  }
}

size_t TokenMap::slot_of(uint32_t id) const noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(arena_ + offsets_[id]);
  const size_t n = offsets_[id + 1] - offsets_[id];
  for (size_t i = hash_bytes(p, n) & mask_;; i = (i + 1) & mask_)
    if (slots_[i].id == id || slots_[i].id == kNone) return i;
}

void TokenMap::set_whole_piece(uint32_t id, bool whole_piece) {
  Entry& e = slots_[slot_of(id)];
  if (e.id != id) return;
  e.len = whole_piece ? (e.len | kPieceFlag) : (e.len & ~kPieceFlag);
}

void PairTable::reserve(size_t n) {
  const size_t cap = std::bit_ceil(n * 2 + 16);
  slots_.assign(cap, Entry{});
  mask_ = cap - 1;
  shift_ = 64 - std::countr_zero(cap);
  count_ = 0;
}

void PairTable::grow() {
  HugeArray<Entry> old = std::move(slots_);
  reserve(old.size());
  for (size_t i = 0; i < old.size(); ++i)
    if (old[i].key != kEmpty) insert(uint32_t(old[i].key >> 32), uint32_t(old[i].key), old[i].merge);
}

void PairTable::insert(uint32_t left, uint32_t right, Merge merge) {
  max_rank_ = std::max(max_rank_, merge.rank);
  if (slots_.empty() || (count_ + 1) * 2 > slots_.size()) grow();
  const uint64_t key = (uint64_t(left) << 32) | right;
  for (size_t i = slot(key);; i = (i + 1) & mask_) {
    Entry& e = slots_[i];
    if (e.key == key) {
      e.merge = merge;
      return;
    }
    if (e.key == kEmpty) {
      e.key = key;
      e.merge = merge;
      ++count_;
      return;
    }
  }
}

}  // namespace qkv::bpe
