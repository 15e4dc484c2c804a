// ModelSpec: everything the encoder needs from a SentencePiece model, whichever file it came
// from (a tokenizer.model ModelProto or a HF tokenizer.json).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace qkv::sentencepiece {

// Values of ModelProto.SentencePiece.Type.
enum class PieceType : uint8_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6
};

enum class Algorithm : uint8_t { kUnigram = 1, kBpe = 2 };

struct Piece {
  std::string text;
  float score = 0;
  PieceType type = PieceType::kNormal;
};

struct ModelSpec {
  Algorithm algorithm = Algorithm::kUnigram;
  std::vector<Piece> pieces;  // index = id
  // BPE from a tokenizer.json: the merge list, best first (HF merges by rank, not by score).
  // Empty for a .model: every split of a piece into two pieces is a merge, by the piece's score.
  std::vector<std::pair<std::string, std::string>> merges;
  // NormalizerSpec: the precompiled charsmap (empty = identity) and the whitespace switches.
  std::string normalizer_name;
  std::string precompiled_charsmap;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
  bool byte_fallback = false;
  bool split_digits = false;  // training-time only: the vocabulary then has no multi-digit piece
  std::string unk_surface = " \xE2\x81\x87 ";  // what decode writes for <unk>
  // What add_special puts around the ids (tokenizer.json post_processor; empty for .model).
  std::vector<int32_t> prefix_ids, suffix_ids;
};

// Parses a tokenizer.model (SentencePiece ModelProto). Throws std::runtime_error saying what is
// wrong or unsupported.
ModelSpec load_model_proto(const std::string& bytes);
// Parses a HF tokenizer.json with a Unigram or BPE(byte_fallback) model converted from
// SentencePiece. Throws std::runtime_error saying what is wrong or unsupported.
ModelSpec load_tokenizer_json(const std::string& text);

}  // namespace qkv::sentencepiece
