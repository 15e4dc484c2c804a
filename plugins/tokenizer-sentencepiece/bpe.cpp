// The pair table replaces SentencePiece's string lookups of concatenations: every way to split a
// piece into two pieces is a (left id, right id) -> merged id entry. Symbols are always pieces or
// characters outside the vocabulary, and a trained BPE vocabulary has no piece containing such a
// character, so the two agree.
#include "bpe.hpp"

#include <queue>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "normalizer.hpp"
#include "unigram.hpp"

namespace qkv::sentencepiece {

BpeSegmenter::BpeSegmenter(const Vocabulary& vocab) : vocab_(vocab) {
  size_t capacity = 16;
  while (capacity < vocab.size() * 8) capacity *= 2;
  keys_.assign(capacity, kEmpty);
  merges_.assign(capacity, Merge{});
  mask_ = capacity - 1;
  unused_halves_.assign(vocab.size(), {-1, -1});
  size_t entries = 0;
  const std::vector<std::pair<std::string, std::string>>& merges = vocab.merges();
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    const int32_t l = vocab.find_segmentable(a), r = vocab.find_segmentable(b);
    const int32_t m = vocab.find_segmentable(a + b);
    if (l < 0 || r < 0 || m < 0)
      throw std::runtime_error("merge " + std::to_string(rank) + " '" + a + " " + b +
                               "' is not made of vocabulary pieces");
    if (++entries * 2 > capacity) throw std::runtime_error("BPE pair table overflow");
    add_merge(l, r, m, -static_cast<float>(rank));
  }
  for (size_t i = 0; i < vocab.size(); ++i) {
    const auto id = static_cast<int32_t>(i);
    if (vocab.find_segmentable(vocab.piece(id).text) != id) continue;
    const std::string& text = vocab.piece(id).text;
    for (size_t k = 1; k < text.size() && merges.empty(); ++k) {
      const int32_t l = vocab.find_segmentable(std::string_view(text).substr(0, k));
      const int32_t r = vocab.find_segmentable(std::string_view(text).substr(k));
      if (l < 0 || r < 0) continue;
      if (++entries * 2 > capacity) throw std::runtime_error("BPE pair table overflow");
      add_merge(l, r, id, vocab.score(id));
      if (vocab.type(id) == PieceType::kUnused && unused_halves_[i].first < 0)
        unused_halves_[i] = {l, r};
    }
    for (size_t pos = text.find(kSpaceSymbol, 1); pos != std::string::npos;
         pos = text.find(kSpaceSymbol, pos + 1))
      if (pos < kSpaceSymbol.size() ||
          std::string_view(text).substr(pos - kSpaceSymbol.size(), kSpaceSymbol.size()) !=
              kSpaceSymbol)
        chunkable_ = false;
  }
}

void BpeSegmenter::add_merge(int32_t left, int32_t right, int32_t merged, float score) {
  const uint64_t key = pair_key(left, right);
  size_t i = hash(key) & mask_;
  while (keys_[i] != kEmpty && keys_[i] != key) i = (i + 1) & mask_;
  if (keys_[i] == key) return;  // the same halves cannot make two pieces
  keys_[i] = key;
  merges_[i] = Merge{merged, score};
}

void BpeSegmenter::segment_chunk(std::string_view chunk,
                                 std::vector<std::pair<int32_t, uint32_t>>& out) const {
  struct Symbol {
    int32_t prev, next, id;
    uint32_t begin, size;
    bool frozen;
  };
  struct Candidate {
    float score;
    int32_t left, right, merged;
    uint32_t size;
  };
  struct Lower {  // SentencePiece's SymbolPairComparator: best score first, then leftmost
    bool operator()(const Candidate& a, const Candidate& b) const {
      return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
  };
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> heap_storage;
  symbols.clear();
  heap_storage.clear();
  const PieceTrie& user = vocab_.user_symbols();
  for (size_t pos = 0; pos < chunk.size();) {
    int32_t id = -1;
    size_t len = user.empty() ? 0 : user.longest_prefix(chunk.substr(pos), id);
    const bool frozen = len > 0;
    if (!frozen) {
      len = std::min(one_char_len(chunk[pos]), chunk.size() - pos);
      id = vocab_.find_segmentable(chunk.substr(pos, len));
    }
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back(Symbol{index - 1, index + 1, id, static_cast<uint32_t>(pos),
                             static_cast<uint32_t>(len), frozen});
    pos += len;
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;
  std::priority_queue<Candidate, std::vector<Candidate>, Lower> agenda(Lower{},
                                                                       std::move(heap_storage));
  auto consider = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const Symbol &a = symbols[static_cast<size_t>(l)], &b = symbols[static_cast<size_t>(r)];
    if (a.frozen || b.frozen || a.id < 0 || b.id < 0) return;
    const Merge m = find_merge(a.id, b.id);
    if (m.id < 0) return;
    agenda.push(Candidate{m.score, l, r, m.id, a.size + b.size});
  };
  for (size_t i = 1; i < symbols.size(); ++i)
    consider(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
  while (!agenda.empty()) {
    const Candidate top = agenda.top();
    agenda.pop();
    Symbol& l = symbols[static_cast<size_t>(top.left)];
    Symbol& r = symbols[static_cast<size_t>(top.right)];
    if (l.size == 0 || r.size == 0 || l.size + r.size != top.size) continue;  // stale
    l.size += r.size;
    l.id = top.merged;
    l.next = r.next;
    if (r.next >= 0) symbols[static_cast<size_t>(r.next)].prev = top.left;
    r.size = 0;
    consider(l.prev, top.left);
    consider(top.left, l.next);
  }
  for (int32_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) {
    const Symbol& s = symbols[static_cast<size_t>(i)];
    out.emplace_back(s.id, s.size);
  }
}

void BpeSegmenter::emit(int32_t id, uint32_t begin, uint32_t end, std::vector<Token>& out) const {
  if (id >= 0 && vocab_.type(id) == PieceType::kUnused) {
    const auto [l, r] = unused_halves_[static_cast<size_t>(id)];
    if (l >= 0) {
      const auto mid = begin + static_cast<uint32_t>(vocab_.piece(l).text.size());
      emit(l, begin, mid, out);
      emit(r, mid, end, out);
      return;
    }
  }
  out.push_back(Token{id < 0 ? vocab_.unk_id() : id, begin, end});
}

void BpeSegmenter::segment(std::string_view normalized, std::vector<Token>& out) const {
  thread_local std::vector<std::pair<int32_t, uint32_t>> pieces;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Stretches repeat (words): their segmentation is cached per thread, bounded.
  thread_local std::unordered_map<std::string, std::vector<std::pair<int32_t, uint32_t>>, Hash,
                                  std::equal_to<>>
      cache;
  thread_local const BpeSegmenter* cache_owner = nullptr;
  if (cache_owner != this) {
    cache.clear();
    cache_owner = this;
  }
  auto run = [&](std::string_view chunk, uint32_t offset) {
    constexpr size_t kMaxCachedChunk = 64;
    const std::vector<std::pair<int32_t, uint32_t>>* result = &pieces;
    if (chunk.size() <= kMaxCachedChunk) {
      auto it = cache.find(chunk);
      if (it == cache.end()) {
        if (cache.size() > (1u << 16)) cache.clear();
        pieces.clear();
        segment_chunk(chunk, pieces);
        it = cache.emplace(std::string(chunk), pieces).first;
      }
      result = &it->second;
    } else {
      pieces.clear();
      segment_chunk(chunk, pieces);
    }
    uint32_t pos = offset;
    for (const auto& [id, len] : *result) {
      emit(id, pos, pos + len, out);
      pos += len;
    }
  };
  if (!chunkable_) {
    run(normalized, 0);
    return;
  }
  size_t start = 0;
  for (size_t pos = normalized.find(kSpaceSymbol, 1); pos != std::string_view::npos;
       pos = normalized.find(kSpaceSymbol, pos + 1)) {
    if (pos >= kSpaceSymbol.size() &&
        normalized.substr(pos - kSpaceSymbol.size(), kSpaceSymbol.size()) == kSpaceSymbol)
      continue;  // inside a run of '▁'
    run(normalized.substr(start, pos - start), static_cast<uint32_t>(start));
    start = pos;
  }
  run(normalized.substr(start), static_cast<uint32_t>(start));
}

}  // namespace qkv::sentencepiece
