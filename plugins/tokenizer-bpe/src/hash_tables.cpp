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
  slots_.assign(cap, kEmpty);
  mask_ = cap - 1;
  shift_ = 64 - std::countr_zero(cap);
  count_ = 0;
}

void PairTable::grow() {
  HugeArray<uint64_t> old = std::move(slots_);
  reserve(old.size());
  for (size_t i = 0; i < old.size(); ++i)
    if (old[i] != kEmpty) place(old[i] >> 22, uint32_t(old[i] & kRankMask));
}

void PairTable::place(uint64_t key, uint32_t rank) {
  for (size_t i = slot(key);; i = (i + 1) & mask_) {
    uint64_t& e = slots_[i];
    if (e == kEmpty) ++count_;
    if (e == kEmpty || (e >> 22) == key) {
      e = (key << 22) | rank;
      return;
    }
  }
}

void PairTable::insert(uint32_t left, uint32_t right, Merge merge) {
  if (left > kMaxId || right > kMaxId || merge.id > kMaxId || merge.rank > kMaxRank)
    throw std::invalid_argument(
        "vocabulary too large: token ids must be below 2097150 and "
        "merges fewer than 4194302");
  if (slots_.empty() || (count_ + 1) * 2 > slots_.size()) grow();
  if (merge.id != merge.rank && results_.empty()) {
    // First merge whose id differs from its rank: keep the rank -> id array from now on.
    results_.resize(size_t(max_rank_) + 1);
    for (uint32_t r = 0; r <= max_rank_; ++r) results_[r] = r;
  }
  if (!results_.empty()) {
    if (results_.size() <= merge.rank) {
      const size_t old = results_.size();
      results_.resize(size_t(merge.rank) + 1);
      for (size_t r = old; r < results_.size(); ++r) results_[r] = uint32_t(r);
    }
    results_[merge.rank] = merge.id;
  }
  max_rank_ = std::max(max_rank_, merge.rank);
  place(key_of(left, right), merge.rank);
}

// ------------------------------------------------------------------ images

namespace {
// Table sizes in an image: a power of two, at least the 16 reserve() gives, and small enough
// that the image cannot ask for absurd allocations before its bytes are checked.
size_t table_capacity(ImageReader& in, size_t item_bytes) {
  const auto cap = in.get<uint64_t>();
  if (cap < 16 || !std::has_single_bit(cap) || cap > (uint64_t{1} << 34) / item_bytes)
    throw ImageError("image: bad table size");
  return size_t(cap);
}
}  // namespace

void TokenMap::save(ImageWriter& out) const {
  out.put(uint64_t(slots_.size()));
  out.put(uint64_t(count_));
  out.put_array(tags_.data(), tags_.size());
  out.put_array(slots_.data(), slots_.size());
}

void TokenMap::load(ImageReader& in, size_t vocab, const char* arena, const uint32_t* offsets) {
  const size_t cap = table_capacity(in, sizeof(Entry) + 1);
  const auto count = in.get<uint64_t>();
  if (count >= cap) throw ImageError("image: token table has no free slot");
  tags_.allocate(cap);
  slots_.allocate(cap);
  in.get_array(tags_.data(), cap);
  in.get_array(slots_.data(), cap);
  size_t used = 0;
  for (size_t i = 0; i < cap; ++i) {
    const Entry& e = slots_[i];
    if (tags_[i] == 0) {
      if (e.id != kNone) throw ImageError("image: token table slot without tag");
      continue;
    }
    // find() compares the rest of a key against the arena when the lengths agree: the length
    // must be the id's own for that read to stay in bounds.
    if (!(tags_[i] & 0x80) || e.id >= vocab ||
        (e.len & ~kPieceFlag) != offsets[e.id + 1] - offsets[e.id] || (e.len & ~kPieceFlag) == 0)
      throw ImageError("image: bad token table entry");
    ++used;
  }
  if (used != count) throw ImageError("image: token table count mismatch");
  mask_ = cap - 1;
  count_ = count;
  arena_ = arena;
  offsets_ = offsets;
}

void PairTable::save(ImageWriter& out) const {
  out.put(uint64_t(slots_.size()));
  out.put(uint64_t(count_));
  out.put(uint64_t(max_rank_));
  out.put(uint64_t(results_.size()));
  out.put_array(slots_.data(), slots_.size());
  out.put_array(results_.data(), results_.size());
}

void PairTable::load(ImageReader& in, size_t vocab, const uint32_t* offsets) {
  const size_t cap = table_capacity(in, sizeof(uint64_t));
  const auto count = in.get<uint64_t>();
  const auto max_rank = in.get<uint64_t>();
  const auto results = in.get<uint64_t>();
  if (count >= cap || max_rank > kMaxRank) throw ImageError("image: bad pair table");
  // Ranks index per-thread arrays of max_rank + 1; merged ids index the vocabulary.
  if (results ? results != max_rank + 1 : max_rank >= vocab)
    throw ImageError("image: bad pair table ranks");
  slots_.allocate(cap);
  in.get_array(slots_.data(), cap);
  results_.resize(size_t(results));
  in.get_array(results_.data(), results_.size());
  for (uint32_t id : results_)
    if (id >= vocab) throw ImageError("image: merged id out of range");
  auto length = [&](uint64_t id) { return offsets[id + 1] - offsets[id]; };
  size_t used = 0;
  for (size_t i = 0; i < cap; ++i) {
    const uint64_t e = slots_[i];
    if (e == kEmpty) continue;
    const uint64_t rank = e & kRankMask, left = e >> 43, right = (e >> 22) & kMaxId21;
    if (rank > max_rank || left >= vocab || right >= vocab)
      throw ImageError("image: pair out of range");
    const uint64_t merged = results_.empty() ? rank : results_[rank];
    if (length(merged) != length(left) + length(right))
      throw ImageError("image: merged token is not its parts' length");
    ++used;
  }
  if (used != count) throw ImageError("image: pair table count mismatch");
  mask_ = cap - 1;
  shift_ = 64 - unsigned(std::countr_zero(cap));
  count_ = count;
  max_rank_ = uint32_t(max_rank);
}

}  // namespace qkv::bpe
