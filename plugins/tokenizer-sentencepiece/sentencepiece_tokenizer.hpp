// SentencePieceTokenizer: normalizer + Unigram or BPE segmentation + SentencePieceProcessor's
// post-processing (byte fallback, runs of <unk> fused), and decoding. Immutable after
// construction: one instance serves any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpe.hpp"
#include "model_spec.hpp"
#include "normalizer.hpp"
#include "vocabulary.hpp"

namespace qkv::sentencepiece {

struct EncodeParams {
  bool add_special = false;  // the file's post-processor ids (none for a .model)
  uint32_t max_length = 0;   // 0: all; else at most this many ids, specials included
};

class SentencePieceTokenizer {
 public:
  explicit SentencePieceTokenizer(ModelSpec spec);  // throws std::runtime_error

  // Replaces `ids` (and `offsets`, when given: [begin, end) byte pairs in `text`).
  void encode(std::string_view text, const EncodeParams& params, std::vector<int32_t>& ids,
              std::vector<uint32_t>* offsets = nullptr) const;
  // Appends the text of `ids`; throws std::out_of_range on an id outside the vocabulary.
  void decode(std::span<const int32_t> ids, std::string& out) const;

  Algorithm algorithm() const { return spec_.algorithm; }
  size_t vocab_size() const { return vocab_.size(); }
  int32_t unk_id() const { return vocab_.unk_id(); }
  // Id of a control piece (e.g. "<s>"), -1 if the vocabulary has none.
  int32_t control_id(std::string_view piece) const;
  int32_t token_to_id(std::string_view piece) const { return vocab_.find(piece); }

 private:
  ModelSpec spec_;
  Vocabulary vocab_;
  Normalizer normalizer_;
  std::unique_ptr<BpeSegmenter> bpe_;  // BPE models only
};

}  // namespace qkv::sentencepiece
