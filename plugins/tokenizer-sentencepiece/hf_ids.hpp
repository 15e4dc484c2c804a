// HfIds: the ids HF's slow SentencePiece tokenizers put on top of the library's pieces, for the
// families whose vocabulary is not the .model's own numbering.
//  - fairseq (XLMRobertaTokenizer): `<s>`=0 `<pad>`=1 `</s>`=2 `<unk>`=3, every other piece its
//    SentencePiece id + 1, `<mask>` = the last id; `<s> ... </s>` around a document.
//  - vocab.json (MarianTokenizer): piece text -> id from the model's vocab.json, a piece it lacks
//    -> its `<unk>`; `</s>` appended.
// Immutable after construction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vocabulary.hpp"

namespace qkv::sentencepiece {

class HfIds {
 public:
  static HfIds fairseq(const Vocabulary& vocab);
  // `json_text` is a vocab.json; throws std::runtime_error naming the key that is wrong.
  static HfIds vocab_json(const Vocabulary& vocab, const std::string& json_text);

  // The id of a segment the library did not mark unknown (SentencePiece id `piece`), and of an
  // `<unk>` run, by its normalized text (what EncodeAsPieces returns for it).
  int32_t of_piece(int32_t piece) const { return of_piece_[static_cast<size_t>(piece)]; }
  int32_t of_unknown(std::string_view surface) const;
  // vocab.json: MarianTokenizer splits a leading `>>xx<<` off the text, id encoder.get(code, unk)
  bool splits_language_codes() const { return by_text_; }
  int32_t of_code(std::string_view code) const { return of_unknown(code); }

  const std::vector<int32_t>& prefix() const { return prefix_; }
  const std::vector<int32_t>& suffix() const { return suffix_; }
  size_t size() const { return texts_.size(); }
  // The piece text of an id, and the SentencePiece piece it is (-1 when the .model has none).
  const std::string& text(int32_t id) const { return texts_[static_cast<size_t>(id)]; }
  int32_t piece_of(int32_t id) const { return piece_of_[static_cast<size_t>(id)]; }
  int32_t find(std::string_view text) const;  // -1 if none
  bool is_special(int32_t id) const {
    return id == bos || id == eos || id == pad || id == unk || id == mask;
  }

  int32_t bos = -1, eos = -1, pad = -1, unk = -1, mask = -1;

 private:
  bool by_text_ = false;  // vocab.json: an unknown run is looked up by its text
  std::vector<int32_t> of_piece_, piece_of_, prefix_, suffix_;
  std::vector<std::string> texts_;
  std::unordered_map<std::string, int32_t> ids_;
};

}  // namespace qkv::sentencepiece
