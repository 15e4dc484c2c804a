// SentencePieceTokenizer: normalizer + Unigram or BPE segmentation + SentencePieceProcessor's
// post-processing (byte fallback, runs of <unk> fused), and decoding. Immutable after
// construction: one instance serves any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpe.hpp"
#include "hf_ids.hpp"
#include "model_spec.hpp"
#include "normalizer.hpp"
#include "vocabulary.hpp"

namespace qkv::sentencepiece {

struct EncodeParams {
  bool add_special = false;  // the file's post-processor ids (none for a .model)
  uint32_t max_length = 0;   // 0: all; else at most this many ids, specials included
};

// Which ids the tokenizer hands out: the .model's own, or one of HF's numberings (hf_ids.hpp).
struct IdMapSpec {
  enum class Kind { kSentencePiece, kFairseq, kVocabJson } kind = Kind::kSentencePiece;
  std::string vocab_json;  // kVocabJson: the file's text
};

class SentencePieceTokenizer {
 public:
  // Throws std::runtime_error.
  explicit SentencePieceTokenizer(ModelSpec spec, const IdMapSpec& ids = {});

  // Replaces `ids` (and `offsets`, when given: [begin, end) byte pairs in `text`).
  void encode(std::string_view text, const EncodeParams& params, std::vector<int32_t>& ids,
              std::vector<uint32_t>* offsets = nullptr) const;
  // Appends the text of `ids`; throws std::out_of_range on an id outside the vocabulary.
  void decode(std::span<const int32_t> ids, std::string& out) const;

  Algorithm algorithm() const { return spec_.algorithm; }
  size_t vocab_size() const { return hf_ ? hf_->size() : vocab_.size(); }
  int32_t unk_id() const { return hf_ ? hf_->unk : vocab_.unk_id(); }
  // Id of a control piece (e.g. "<s>"), -1 if the vocabulary has none.
  int32_t control_id(std::string_view piece) const;
  int32_t token_to_id(std::string_view piece) const {
    return hf_ ? hf_->find(piece) : vocab_.find(piece);
  }
  const HfIds* hf_ids() const { return hf_ ? &*hf_ : nullptr; }

 private:
  ModelSpec spec_;
  Vocabulary vocab_;
  Normalizer normalizer_;
  std::unique_ptr<BpeSegmenter> bpe_;  // BPE models only
  std::optional<HfIds> hf_;            // HF's numbering, when asked for
  void append_piece_text(const Piece& p, bool& at_start, std::string& out) const;
};

}  // namespace qkv::sentencepiece
