#include "hash_tables.hpp"

#include <algorithm>
#include <bit>
#include <stdexcept>

namespace qkv::bpe {

void TokenMap::reserve(size_t n) {
  const size_t cap = std::bit_ceil(n * 2 + 16);
  slots_.assign(cap, Entry{});
  mask_ = cap - 1;
  count_ = 0;
}

void TokenMap::insert(std::string_view bytes, uint32_t id, bool whole_piece) {
  if ((count_ + 1) * 2 > slots_.size()) throw std::logic_error("TokenMap: reserve too small");
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const uint64_t h = hash_bytes(p, bytes.size());
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    Entry& e = slots_[i];
    if (e.id == kNone) {
      e = Entry{h, bytes.data(), id, uint32_t(bytes.size()) | (whole_piece ? kPieceFlag : 0)};
      ++count_;
      return;
    }
    if (e.hash == h && (e.len & ~kPieceFlag) == bytes.size() &&
        std::memcmp(e.bytes, p, bytes.size()) == 0)
      throw std::invalid_argument("duplicate token bytes");
  }
}

void TokenMap::set_whole_piece(std::string_view bytes, bool whole_piece) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const uint64_t h = hash_bytes(p, bytes.size());
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    Entry& e = slots_[i];
    if (e.id == kNone) return;
    if (e.hash == h && (e.len & ~kPieceFlag) == bytes.size() &&
        std::memcmp(e.bytes, p, bytes.size()) == 0) {
      e.len = whole_piece ? (e.len | kPieceFlag) : (e.len & ~kPieceFlag);
      return;
    }
  }
}

void PairTable::reserve(size_t n) {
  const size_t cap = std::bit_ceil(n * 2 + 16);
  slots_.assign(cap, Entry{});
  mask_ = cap - 1;
  shift_ = 64 - std::countr_zero(cap);
  count_ = 0;
}

void PairTable::grow() {
  std::vector<Entry> old = std::move(slots_);
  reserve(old.size());
  for (const Entry& e : old)
    if (e.key != kEmpty) insert(uint32_t(e.key >> 32), uint32_t(e.key), e.merge);
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
