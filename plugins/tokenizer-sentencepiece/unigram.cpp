// The arithmetic is SentencePiece's on purpose: path scores are stored as float, a candidate is
// the double sum of a piece score and the float score so far, and a user-defined piece scores
// length * max_score - 0.1 in double. Any other order of rounding changes ties, hence ids.
#include "unigram.hpp"

#include <algorithm>

namespace qkv::sentencepiece {
namespace {

constexpr float kUnkPenalty = 10.0f;

struct BestPathNode {
  int32_t id = -1;
  float best_path_score = 0;
  int32_t starts_at = -1;
};

}  // namespace

void unigram_segment(const Vocabulary& vocab, std::string_view normalized,
                     std::vector<Token>& out) {
  const size_t size = normalized.size();
  if (size == 0) return;
  thread_local std::vector<BestPathNode> best;  // reused: no allocation per call
  best.assign(size + 1, BestPathNode{});
  const float unk_score = vocab.min_score() - kUnkPenalty;
  const float max_score = vocab.max_score();
  const PieceTrie& trie = vocab.trie();
  const char* text = normalized.data();
  size_t starts_at = 0;
  while (starts_at < size) {
    const float till_here = best[starts_at].best_path_score;
    bool has_single_node = false;
    const size_t mblen = std::min(one_char_len(text[starts_at]), size - starts_at);
    uint32_t node = PieceTrie::root();
    for (size_t key_pos = starts_at; key_pos < size;) {
      node = trie.step(node, static_cast<uint8_t>(text[key_pos++]));
      if (node == PieceTrie::kNoNode) break;
      const int32_t id = trie.value(node);
      if (id < 0) continue;
      const PieceType type = vocab.type(id);
      if (type == PieceType::kUnused) continue;
      const size_t length = key_pos - starts_at;
      const double score = type == PieceType::kUserDefined
                               ? static_cast<double>(static_cast<float>(length) * max_score) - 0.1
                               : static_cast<double>(vocab.score(id));
      const double candidate = score + static_cast<double>(till_here);
      BestPathNode& target = best[key_pos];
      if (target.starts_at == -1 || candidate > static_cast<double>(target.best_path_score)) {
        target.best_path_score = static_cast<float>(candidate);
        target.starts_at = static_cast<int32_t>(starts_at);
        target.id = id;
      }
      if (length == mblen) has_single_node = true;
    }
    if (!has_single_node) {
      BestPathNode& target = best[starts_at + mblen];
      const float candidate = unk_score + till_here;
      if (target.starts_at == -1 || candidate > target.best_path_score) {
        target.best_path_score = candidate;
        target.starts_at = static_cast<int32_t>(starts_at);
        target.id = vocab.unk_id();
      }
    }
    starts_at += mblen;
  }
  const size_t first = out.size();
  for (size_t ends_at = size; ends_at > 0;) {
    const BestPathNode& n = best[ends_at];
    out.push_back(Token{n.id, static_cast<uint32_t>(n.starts_at), static_cast<uint32_t>(ends_at)});
    ends_at = static_cast<size_t>(n.starts_at);
  }
  std::reverse(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
}

}  // namespace qkv::sentencepiece
