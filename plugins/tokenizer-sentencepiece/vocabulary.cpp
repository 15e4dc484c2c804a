// Vocabulary checks mirror ModelInterface::InitializePieces (sentencepiece v0.1.97): pieces are
// non-empty and unique within their class, exactly one <unk>, byte pieces only with
// byte_fallback and then all 256 of them.
#include "vocabulary.hpp"

#include <cfloat>
#include <stdexcept>

namespace qkv::sentencepiece {
namespace {

// "<0x41>" -> 0x41; -1 when not a byte piece spelling.
int parse_byte_piece(std::string_view s) {
  if (s.size() != 6 || s.substr(0, 3) != "<0x" || s[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const int hi = hex(s[3]), lo = hex(s[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

}  // namespace

Vocabulary::Vocabulary(const ModelSpec& spec) : pieces_(spec.pieces), merges_(spec.merges) {
  byte_fallback_ = spec.byte_fallback;
  for (int32_t& b : byte_ids_) b = -1;
  float lo = FLT_MAX, hi = FLT_MIN;  // FLT_MIN, as unigram_model.cc starts it
  for (size_t i = 0; i < pieces_.size(); ++i) {
    const Piece& p = pieces_[i];
    scores_.push_back(p.score);
    types_.push_back(p.type);
    const auto id = static_cast<int32_t>(i);
    const std::string where = "piece " + std::to_string(i) + " '" + p.text + "'";
    if (p.text.empty()) throw std::runtime_error("piece " + std::to_string(i) + " is empty");
    const bool segmentable = p.type == PieceType::kNormal || p.type == PieceType::kUserDefined ||
                             p.type == PieceType::kUnused;
    if (!(segmentable ? segmentable_ : reserved_).emplace(p.text, id).second)
      throw std::runtime_error(where + " is defined twice");
    if (segmentable) trie_.insert(p.text, id);
    if (p.type == PieceType::kUserDefined) user_symbols_.insert(p.text, id);
    if (p.type == PieceType::kNormal) {
      lo = std::min(lo, p.score);
      hi = std::max(hi, p.score);
    }
    if (p.type == PieceType::kUnknown) {
      if (unk_id_ >= 0) throw std::runtime_error(where + ": a second <unk> piece");
      unk_id_ = id;
    }
    if (p.type == PieceType::kByte) {
      if (!byte_fallback_)
        throw std::runtime_error(where + " is a byte piece but byte_fallback is off");
      const int b = parse_byte_piece(p.text);
      if (b < 0) throw std::runtime_error(where + " is not a <0xNN> byte piece");
      byte_ids_[b] = id;
    }
  }
  if (unk_id_ < 0) throw std::runtime_error("the model has no <unk> piece");
  if (byte_fallback_)
    for (int b = 0; b < 256; ++b)
      if (byte_ids_[b] < 0)
        throw std::runtime_error("byte_fallback is on but byte piece " + std::to_string(b) +
                                 " is missing");
  min_score_ = lo == FLT_MAX ? 0.0f : lo;
  max_score_ = hi == FLT_MIN ? 0.0f : hi;
}

int32_t Vocabulary::find_segmentable(std::string_view piece) const {
  auto it = segmentable_.find(piece);
  return it == segmentable_.end() ? -1 : it->second;
}

int32_t Vocabulary::find(std::string_view piece) const {
  if (int32_t id = find_segmentable(piece); id >= 0) return id;
  auto it = reserved_.find(piece);
  return it == reserved_.end() ? -1 : it->second;
}

}  // namespace qkv::sentencepiece
