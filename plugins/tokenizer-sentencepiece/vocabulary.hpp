// Vocabulary: the pieces of a ModelSpec, checked as SentencePiece's ModelInterface checks them,
// with the lookup structures both segmenters share.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model_spec.hpp"
#include "piece_trie.hpp"

namespace qkv::sentencepiece {

// One segment of the normalized text: [begin, end) bytes and its id.
struct Token {
  int32_t id;
  uint32_t begin, end;
};

class Vocabulary {
 public:
  explicit Vocabulary(const ModelSpec& spec);  // throws std::runtime_error when inconsistent

  size_t size() const { return pieces_.size(); }
  const Piece& piece(int32_t id) const { return pieces_[static_cast<size_t>(id)]; }
  // Per-id arrays, not the Piece structs: these are read in the segmenters' inner loops.
  PieceType type(int32_t id) const { return types_[static_cast<size_t>(id)]; }
  float score(int32_t id) const { return scores_[static_cast<size_t>(id)]; }
  int32_t unk_id() const { return unk_id_; }
  int32_t byte_id(uint8_t b) const { return byte_ids_[b]; }
  bool byte_fallback() const { return byte_fallback_; }
  const std::vector<std::pair<std::string, std::string>>& merges() const { return merges_; }
  // Id of a piece string: normal / user-defined / unused pieces first, then control, unknown and
  // byte pieces (SentencePiece's PieceToId without the unk default); -1 if none.
  int32_t find(std::string_view piece) const;
  // Id of a normal, user-defined or unused piece; -1 if none (what the segmenters may produce).
  int32_t find_segmentable(std::string_view piece) const;

  const PieceTrie& trie() const { return trie_; }  // normal + user-defined + unused pieces
  const PieceTrie& user_symbols() const { return user_symbols_; }
  // Over NORMAL pieces, as unigram::Model computes them (0 when there are none).
  float min_score() const { return min_score_; }
  float max_score() const { return max_score_; }

 private:
  std::vector<Piece> pieces_;
  std::vector<float> scores_;
  std::vector<PieceType> types_;
  std::vector<std::pair<std::string, std::string>> merges_;
  std::unordered_map<std::string_view, int32_t> segmentable_, reserved_;
  PieceTrie trie_, user_symbols_;
  int32_t unk_id_ = -1;
  int32_t byte_ids_[256];
  bool byte_fallback_;
  float min_score_ = 0, max_score_ = 0;
};

}  // namespace qkv::sentencepiece
