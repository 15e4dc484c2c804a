#include "bpe.hpp"

#include "char_class.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <cstring>
#include <queue>
#include <stdexcept>

namespace qkv::bpe {

// Collects ids and offsets of one encode call; `full()` once max_length ids are in.
class Bpe::Output {
 public:
  Output(std::vector<int32_t>& ids, std::vector<uint32_t>* offsets, uint32_t max_length)
      : ids_(ids),
        offsets_(offsets),
        start_(ids.size()),
        limit_(max_length ? ids.size() + max_length : SIZE_MAX) {}
  void push(uint32_t id, uint32_t begin, uint32_t end) {
    ids_.push_back(int32_t(id));
    if (offsets_) {
      offsets_->push_back(begin);
      offsets_->push_back(end);
    }
  }
  bool full() const noexcept { return ids_.size() >= limit_; }
  size_t size() const noexcept { return ids_.size(); }
  const int32_t* tail(size_t k) const noexcept { return ids_.data() + ids_.size() - k; }
  void finish() {
    if (ids_.size() > limit_) {
      if (offsets_) offsets_->resize(offsets_->size() - 2 * (ids_.size() - limit_));
      ids_.resize(limit_);
    }
  }
  std::vector<uint32_t>* offsets() const noexcept { return offsets_; }
  size_t start() const noexcept { return start_; }

 private:
  std::vector<int32_t>& ids_;
  std::vector<uint32_t>* offsets_;
  size_t start_;
  size_t limit_;
};

namespace {

constexpr uint32_t kNoRank = PairTable::kNoRank;
// Pieces up to this many bytes merge with the quadratic scan (fast for short pieces); longer
// ones with a heap, O(n log n).
constexpr size_t kSmallPiece = 96;

// Per-thread scratch space, reused so encoding allocates nothing per token.
struct Scratch {
  std::vector<uint32_t> ids, ranks, next, prev;
  struct Bucket {
    std::vector<uint32_t> pos;  // candidate left positions of one rank
    size_t cursor = 0;          // pos[0, cursor) are done
    bool sorted = true;         // pos[cursor, end) ascending
  };
  std::vector<Bucket> buckets;
  std::vector<int32_t> bucket_of_rank;  // rank -> index in buckets, -1 if none
  std::vector<uint32_t> rank_heap;      // min-heap of ranks that have a bucket
  std::string prefixed;
};
thread_local Scratch t_scratch;

// Per-thread cache of recently merged pieces (pieces that are one token never get here):
// repeated words skip the merge loop. Entries carry the instance serial, so a cache is never
// read for another vocabulary.
struct CachedPiece {
  static constexpr size_t kBytes = 30, kIds = 8;
  uint64_t hash;
  uint64_t serial;
  uint8_t len, n;
  unsigned char bytes[kBytes];
  uint32_t ids[kIds];
};
constexpr size_t kCacheSlots = 4096;
thread_local std::unique_ptr<CachedPiece[]> t_cache;
std::atomic<uint64_t> g_serial{0};

}  // namespace

uint64_t Bpe::next_serial() noexcept { return ++g_serial; }

Bpe::Bpe(BpeSpec spec)
    : serial_(next_serial()),
      scan_(scanner_for(spec.pattern)),
      add_prefix_space_(spec.add_prefix_space),
      match_specials_by_default_(spec.match_specials_by_default),
      wrap_(spec.wrap) {
  uint32_t max_id = 0;
  for (const auto& t : spec.tokens) max_id = std::max(max_id, t.id);
  for (const auto& t : spec.specials) max_id = std::max(max_id, t.id);
  if (max_id >= 0x7FFFFFFFu) throw std::invalid_argument("token id too large");

  // Arena first (the map points into it), specials' bytes included for decoding.
  std::vector<std::string_view> by_id(size_t(max_id) + 1);
  known_.assign(size_t(max_id) + 1, 0);
  for (const auto& t : spec.tokens) {
    if (t.bytes.empty()) throw std::invalid_argument("empty token for id " + std::to_string(t.id));
    if (known_[t.id]) throw std::invalid_argument("id " + std::to_string(t.id) + " given twice");
    known_[t.id] = 1;
    by_id[t.id] = t.bytes;
  }
  for (const auto& t : spec.specials) {
    if (t.bytes.empty()) throw std::invalid_argument("empty special token");
    if (known_[t.id] && by_id[t.id] != t.bytes)
      throw std::invalid_argument("special token '" + t.bytes + "' reuses id " +
                                  std::to_string(t.id) + " of another token");
    known_[t.id] = 1;
    by_id[t.id] = t.bytes;
  }
  offset_.assign(size_t(max_id) + 2, 0);
  size_t total = 0;
  for (auto b : by_id) total += b.size();
  arena_.reserve(total);
  for (size_t id = 0; id <= max_id; ++id) {
    offset_[id] = uint32_t(arena_.size());
    arena_.append(by_id[id]);
  }
  offset_[max_id + 1] = uint32_t(arena_.size());
  auto bytes_of = [&](uint32_t id) {
    return std::string_view(arena_).substr(offset_[id], offset_[id + 1] - offset_[id]);
  };

  std::fill(std::begin(byte_id_), std::end(byte_id_), TokenMap::kNone);
  map_.reset(spec.tokens.size(), arena_.data(), offset_.data());
  for (const auto& t : spec.tokens) {
    try {
      map_.insert(t.id, true);
    } catch (const std::invalid_argument&) {
      throw std::invalid_argument("two ids (one is " + std::to_string(t.id) +
                                  ") have the same bytes");
    }
    if (t.bytes.size() == 1) byte_id_[static_cast<unsigned char>(t.bytes[0])] = t.id;
  }
  for (int b = 0; b < 256; ++b)
    if (byte_id_[b] == TokenMap::kNone)
      throw std::invalid_argument("byte-level vocabulary has no token for byte " +
                                  std::to_string(b));

  build_pairs(spec);
  max_rank_ = pairs_.max_rank();
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b) byte_pair_[a * 256 + b] = pairs_.find(byte_id_[a], byte_id_[b]);

  if (!spec.whole_piece_lookup) {
    // Keep the shortcut only where it agrees with merging.
    for (const auto& t : spec.tokens) {
      if (t.bytes.size() < 2) continue;
      auto ids = merge_only(bytes_of(t.id));
      if (ids.size() != 1 || ids[0] != t.id) map_.set_whole_piece(t.id, false);
    }
  }

  for (const auto& t : spec.specials) specials_.push_back({t.bytes, t.id, t.lstrip});
  std::stable_sort(specials_.begin(), specials_.end(), [](const Special& a, const Special& b) {
    return a.bytes.size() > b.bytes.size();
  });
  for (const auto& s : specials_) special_first_[static_cast<unsigned char>(s.bytes[0])] = true;
}

void Bpe::build_pairs(const BpeSpec& spec) {
  auto bytes_of = [&](uint32_t id) {
    return std::string_view(arena_).substr(offset_[id], offset_[id + 1] - offset_[id]);
  };
  if (spec.has_merges) {
    pairs_.reserve(spec.merges.size());
    std::string joined;
    for (uint32_t rank = 0; rank < spec.merges.size(); ++rank) {
      auto [a, b] = spec.merges[rank];
      joined.clear();
      joined.append(bytes_of(a));
      joined.append(bytes_of(b));
      const uint32_t id =
          map_.find(reinterpret_cast<const unsigned char*>(joined.data()), joined.size(), false);
      if (id == TokenMap::kNone)
        throw std::invalid_argument("merge " + std::to_string(rank + 1) +
                                    ": the merged token is not in the vocabulary");
      pairs_.insert(a, b, {rank, id});
    }
    return;
  }
  // tiktoken: every split of a token into two tokens is a pair ranked by the token's id.
  pairs_.reserve(spec.tokens.size() * 2);
  for (const auto& t : spec.tokens) {
    auto bytes = bytes_of(t.id);
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    for (size_t k = 1; k < bytes.size(); ++k) {
      const uint32_t a = map_.find(p, k, false);
      if (a == TokenMap::kNone) continue;
      const uint32_t b = map_.find(p + k, bytes.size() - k, false);
      if (b == TokenMap::kNone) continue;
      pairs_.insert(a, b, {t.id, t.id});
    }
  }
}

std::vector<uint32_t> Bpe::merge_only(std::string_view bytes) const {
  std::vector<uint32_t> ids;
  for (unsigned char c : bytes) ids.push_back(byte_id_[c]);
  for (;;) {
    uint32_t best = kNoRank;
    size_t at = 0;
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      auto m = pairs_.find(ids[i], ids[i + 1]);
      if (m.rank < best) best = m.rank, at = i;
    }
    if (best == kNoRank) return ids;
    ids[at] = pairs_.find(ids[at], ids[at + 1]).id;
    ids.erase(ids.begin() + ptrdiff_t(at) + 1);
  }
}

// ------------------------------------------------------------------ merging

void Bpe::merge_small(const unsigned char* p, size_t n, uint32_t base, Output& out) const {
  // Parts i: id[i] over bytes [start[i], start[i+1]); merging parts i and i+1 has rank[i].
  // Lowest rank first, leftmost among equals (tiktoken's order).
  uint32_t id[kSmallPiece], start[kSmallPiece + 1], rank[kSmallPiece];
  for (size_t i = 0; i < n; ++i) id[i] = byte_id_[p[i]], start[i] = uint32_t(i);
  start[n] = uint32_t(n);
  for (size_t i = 0; i + 1 < n; ++i) {
    rank[i] = byte_pair_[p[i] * 256 + p[i + 1]].rank;
  }
  rank[n - 1] = kNoRank;
  size_t m = n;
  while (m > 1) {
    uint32_t best = kNoRank;
    size_t at = 0;
    for (size_t i = 0; i + 1 < m; ++i)
      if (rank[i] < best) best = rank[i], at = i;
    if (best == kNoRank) break;
    id[at] = pairs_.result(best);
    // The two pairs to look up next: start loading them, then shift while they arrive.
    if (at > 0) pairs_.prefetch(id[at - 1], id[at]);
    if (at + 2 < m) pairs_.prefetch(id[at], id[at + 2]);
    // Remove part at+1.
    const size_t tail = m - at - 2;
    std::memmove(id + at + 1, id + at + 2, tail * sizeof(uint32_t));
    std::memmove(rank + at + 1, rank + at + 2, tail * sizeof(uint32_t));
    std::memmove(start + at + 1, start + at + 2, (tail + 1) * sizeof(uint32_t));
    --m;
    rank[m - 1] = kNoRank;
    if (at + 1 < m) rank[at] = pairs_.rank(id[at], id[at + 1]);
    if (at > 0) rank[at - 1] = pairs_.rank(id[at - 1], id[at]);
  }
  for (size_t i = 0; i < m; ++i) out.push(id[i], base + start[i], base + start[i + 1]);
}

void Bpe::merge_large(const unsigned char* p, size_t n, uint32_t base, Output& out) const {
  // Same order as merge_small — lowest rank first, leftmost among equal ranks — without the
  // quadratic scan: parts form a linked list, candidate pairs wait in one bucket per rank
  // (positions, sorted lazily), and a small heap holds the ranks that have candidates. A
  // candidate is stale when the pair now starting at its position has another rank.
  Scratch& s = t_scratch;
  constexpr uint32_t kEnd = 0xFFFFFFFFu;
  s.ids.resize(n);
  s.next.resize(n);
  s.prev.resize(n);
  s.ranks.resize(n);
  if (s.bucket_of_rank.size() < size_t(max_rank_) + 1)
    s.bucket_of_rank.assign(size_t(max_rank_) + 1, -1);
  s.rank_heap.clear();
  size_t used = 0;  // buckets of s.buckets in use for this piece
  auto push = [&](uint32_t rank, uint32_t pos) {
    int32_t& slot = s.bucket_of_rank[rank];
    if (slot < 0) {
      if (used == s.buckets.size()) s.buckets.emplace_back();
      slot = int32_t(used++);
      auto& b = s.buckets[size_t(slot)];
      b.pos.clear();
      b.cursor = 0;
      b.sorted = true;
      s.rank_heap.push_back(rank);
      std::push_heap(s.rank_heap.begin(), s.rank_heap.end(), std::greater<>{});
    }
    auto& b = s.buckets[size_t(slot)];
    if (b.pos.size() > b.cursor && pos < b.pos.back()) b.sorted = false;
    b.pos.push_back(pos);
  };
  auto pair_rank = [&](uint32_t left) -> uint32_t {
    const uint32_t right = s.next[left];
    return right == kEnd ? kNoRank : pairs_.rank(s.ids[left], s.ids[right]);
  };
  for (size_t i = 0; i < n; ++i) {
    s.ids[i] = byte_id_[p[i]];
    s.next[i] = i + 1 < n ? uint32_t(i + 1) : kEnd;
    s.prev[i] = i ? uint32_t(i - 1) : kEnd;
  }
  for (uint32_t i = 0; i < n; ++i) {
    s.ranks[i] = pair_rank(i);
    if (s.ranks[i] != kNoRank) push(s.ranks[i], i);
  }
  while (!s.rank_heap.empty()) {
    const uint32_t rank = s.rank_heap.front();
    auto& b = s.buckets[size_t(s.bucket_of_rank[rank])];
    if (b.cursor == b.pos.size()) {  // this rank is done (for now)
      std::pop_heap(s.rank_heap.begin(), s.rank_heap.end(), std::greater<>{});
      s.rank_heap.pop_back();
      s.bucket_of_rank[rank] = -1;
      continue;
    }
    if (!b.sorted) {
      std::sort(b.pos.begin() + ptrdiff_t(b.cursor), b.pos.end());
      b.sorted = true;
    }
    const uint32_t left = b.pos[b.cursor++];
    if (s.ranks[left] != rank) continue;  // stale
    const uint32_t right = s.next[left];
    s.ids[left] = pairs_.result(rank);
    s.ranks[right] = kNoRank;
    s.next[left] = s.next[right];
    if (s.next[left] != kEnd) s.prev[s.next[left]] = left;
    s.ranks[left] = pair_rank(left);
    if (s.ranks[left] != kNoRank) push(s.ranks[left], left);
    if (const uint32_t pl = s.prev[left]; pl != kEnd) {
      s.ranks[pl] = pair_rank(pl);
      if (s.ranks[pl] != kNoRank) push(s.ranks[pl], pl);
    }
  }
  for (uint32_t i = 0; i != kEnd; i = s.next[i]) {
    const uint32_t end = s.next[i] == kEnd ? uint32_t(n) : s.next[i];
    out.push(s.ids[i], base + i, base + end);
  }
}

inline void Bpe::encode_piece(const unsigned char* p, size_t n, uint64_t h, uint32_t base,
                              Output& out) const {
  if (n == 1) {
    out.push(byte_id_[p[0]], base, base + 1);
    return;
  }
  const uint32_t id = map_.find_hashed(p, n, h, true);
  if (id != TokenMap::kNone) {
    out.push(id, base, base + uint32_t(n));
    return;
  }
  if (n > CachedPiece::kBytes) {
    if (n <= kSmallPiece)
      merge_small(p, n, base, out);
    else
      merge_large(p, n, base, out);
    return;
  }
  if (!t_cache) t_cache = std::make_unique<CachedPiece[]>(kCacheSlots);
  CachedPiece& c = t_cache[h & (kCacheSlots - 1)];
  if (c.hash == h && c.serial == serial_ && c.len == n && std::memcmp(c.bytes, p, n) == 0) {
    uint32_t pos = base;
    for (size_t i = 0; i < c.n; ++i) {
      const uint32_t end = pos + (offset_[c.ids[i] + 1] - offset_[c.ids[i]]);
      out.push(c.ids[i], pos, end);
      pos = end;
    }
    return;
  }
  const size_t before = out.size();
  merge_small(p, n, base, out);
  const size_t k = out.size() - before;
  if (k <= CachedPiece::kIds) {
    c.hash = h;
    c.serial = serial_;
    c.len = uint8_t(n);
    c.n = uint8_t(k);
    std::memcpy(c.bytes, p, n);
    const int32_t* ids = out.tail(k);
    for (size_t i = 0; i < k; ++i) c.ids[i] = uint32_t(ids[i]);
  }
}

void Bpe::encode_ordinary(const unsigned char* s, size_t n, uint32_t base, Output& out) const {
  if (add_prefix_space_ && n > 0 && s[0] != ' ') {
    // HF ByteLevel(add_prefix_space): encode " " + text; the space maps to offset `base`.
    std::string& buf = t_scratch.prefixed;
    buf.resize(n + 1);
    buf[0] = ' ';
    std::memcpy(buf.data() + 1, s, n);
    const size_t first = out.offsets() ? out.offsets()->size() : 0;
    encode_pieces(reinterpret_cast<const unsigned char*>(buf.data()), buf.size(), base, out);
    if (auto* off = out.offsets())
      for (size_t i = first; i < off->size(); ++i) (*off)[i] = std::max((*off)[i], base + 1) - 1;
    return;
  }
  encode_pieces(s, n, base, out);
}

void Bpe::encode_pieces(const unsigned char* s, size_t n, uint32_t base, Output& out) const {
  // Pieces go in batches: scanning and hashing a batch first lets the table lines of all its
  // pieces load at once (prefetch) instead of one cache miss after another.
  constexpr size_t kBatch = 16;
  struct Piece {
    uint32_t begin, end;
    uint64_t hash;
  } batch[kBatch];
  if (!t_cache) t_cache = std::make_unique<CachedPiece[]>(kCacheSlots);
  const CachedPiece* cache = t_cache.get();
  for (size_t pos = 0; pos < n && !out.full();) {
    size_t k = 0;
    for (; k < kBatch && pos < n; ++k) {
      const size_t end = scan_(s, n, pos);
      const uint64_t h = end - pos > 1 ? hash_bytes(s + pos, end - pos) : 0;
      if (end - pos > 1) {
        map_.prefetch(h);
        if (end - pos <= CachedPiece::kBytes) __builtin_prefetch(&cache[h & (kCacheSlots - 1)]);
      }
      batch[k] = {uint32_t(pos), uint32_t(end), h};
      pos = end;
    }
    for (size_t i = 0; i < k; ++i)
      encode_piece(s + batch[i].begin, batch[i].end - batch[i].begin, batch[i].hash,
                   base + batch[i].begin, out);
  }
}

namespace {

// Start of the run of Unicode White_Space characters that ends at `end`, not before `floor`.
size_t whitespace_run_start(const unsigned char* s, size_t floor, size_t end) noexcept {
  while (end > floor) {
    size_t start = end - 1;  // back to the lead byte of the character before `end`
    while (start > floor && end - start < 4 && (s[start] & 0xC0) == 0x80) --start;
    const Char c = next_char(s + start, s + end);
    if (!(c.cls & kSpace) || start + c.len != end) break;
    end = start;
  }
  return end;
}

}  // namespace

void Bpe::encode(std::string_view text, const SpecialSelection& sel, uint32_t max_length,
                 std::vector<int32_t>& ids, std::vector<uint32_t>* offsets) const {
  if (text.size() > 0xFFFFFFFFu) throw std::invalid_argument("text over 4 GiB");
  Output out(ids, offsets, max_length);
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();

  // Which specials are matched.
  bool any = false;
  std::vector<uint8_t> allowed;  // per specials_ entry; only built for a list
  auto kind = sel.kind;
  if (kind == SpecialSelection::kDefault)
    kind = match_specials_by_default_ ? SpecialSelection::kAll : SpecialSelection::kNone;
  if (kind == SpecialSelection::kAll) {
    any = !specials_.empty();
  } else if (kind == SpecialSelection::kList) {
    allowed.assign(specials_.size(), 0);
    for (auto name : sel.names) {
      bool found = false;
      for (size_t i = 0; i < specials_.size(); ++i)
        if (specials_[i].bytes == name) allowed[i] = 1, found = true;
      if (!found) throw std::invalid_argument("unknown special token '" + std::string(name) + "'");
    }
    any = !sel.names.empty();
  }
  if (!any) {
    encode_ordinary(s, n, 0, out);
    out.finish();
    return;
  }

  size_t seg = 0;
  for (size_t i = 0; i < n && !out.full();) {
    if (!special_first_[s[i]]) {
      ++i;
      continue;
    }
    const Special* hit = nullptr;
    for (size_t k = 0; k < specials_.size(); ++k) {
      const auto& sp = specials_[k];
      if ((allowed.empty() || allowed[k]) && sp.bytes.size() <= n - i &&
          std::memcmp(sp.bytes.data(), s + i, sp.bytes.size()) == 0) {
        hit = &sp;  // longest first
        break;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    const size_t begin = hit->lstrip ? whitespace_run_start(s, seg, i) : i;
    encode_ordinary(s + seg, begin - seg, uint32_t(seg), out);
    if (out.full()) break;
    // HF's offsets of an lstrip match cover the whitespace; RobertaProcessing's trim_offsets
    // (the token's value is that text) then leaves it out again.
    out.push(hit->id, uint32_t(wrap_.trim_offsets ? i : begin), uint32_t(i + hit->bytes.size()));
    i += hit->bytes.size();
    seg = i;
  }
  if (!out.full()) encode_ordinary(s + seg, n - seg, uint32_t(seg), out);
  out.finish();
}

// ------------------------------------------------------------------ decoding, lookups

bool Bpe::token_bytes(int32_t id, std::string_view* out) const noexcept {
  if (id < 0 || size_t(id) >= known_.size() || !known_[size_t(id)]) return false;
  *out = std::string_view(arena_).substr(offset_[size_t(id)],
                                         offset_[size_t(id) + 1] - offset_[size_t(id)]);
  return true;
}

void Bpe::decode(std::span<const int32_t> ids, std::string& out) const {
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string_view b;
    if (!token_bytes(ids[i], &b))
      throw std::out_of_range("id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                              " is not in the vocabulary");
    out.append(b);
  }
}

int32_t Bpe::special_id(std::string_view name) const noexcept {
  for (const auto& s : specials_)
    if (s.bytes == name) return int32_t(s.id);
  return -1;
}

int32_t Bpe::token_to_id(std::string_view bytes) const noexcept {
  if (int32_t id = special_id(bytes); id >= 0) return id;
  if (bytes.empty()) return -1;
  uint32_t id =
      map_.find(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), false);
  return id == TokenMap::kNone ? -1 : int32_t(id);
}

}  // namespace qkv::bpe
