// BERT WordPiece: special tokens, BERT normalizer + pre-tokenizer, greedy longest-match-first
// over a double-array trie, [CLS]/[SEP] post-processing and truncation. An instance is
// immutable after construction: encode/decode may run on many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bert_normalizer.hpp"
#include "double_array_trie.hpp"
#include "special_matcher.hpp"
#include "wordpiece_model.hpp"

namespace qkv::wordpiece {

enum class SpecialPolicy { kDefault, kNone, kAll, kList };

struct EncodeParams {
  bool add_special = false;  // [CLS] ... [SEP]
  bool offsets = false;      // fill Encoding::offsets
  uint32_t max_length = 0;   // 0 = no truncation; else at most this many ids, specials included
  SpecialPolicy specials = SpecialPolicy::kDefault;
  std::span<const std::string_view> special_names;  // kList
};

struct Encoding {
  std::vector<int32_t> ids;
  std::vector<uint32_t> offsets;  // 2 per id: [begin, end) bytes in the input; [CLS]/[SEP]: 0,0
  void clear() {
    ids.clear();
    offsets.clear();
  }
};

class WordPieceTokenizer {
 public:
  explicit WordPieceTokenizer(ModelSpec spec);

  // The built tables (trie, character table, one-char word ids) as a vocabulary image's
  // payload (format: wordpiece_image.cpp), and back: from_image takes the spec the image was
  // built from (its key covers it) and throws image::ImageError for a payload that fails its
  // bounds checks, leaving `spec` untouched then; it is moved from only once the tables are
  // sound (errors of the spec itself are then thrown as by the constructor).
  std::string image() const;
  static std::unique_ptr<WordPieceTokenizer> from_image(ModelSpec&& spec, std::string_view payload);

  void encode(std::string_view text, const EncodeParams& params, Encoding& out) const;

  // HF WordPiece decoder: pieces starting with the prefix are glued to the previous one (prefix
  // removed), others are preceded by a space (not the first); with `cleanup` a space before
  // . ? ! , is dropped. Special tokens are skipped (HF decode with skip_special_tokens).
  // Throws std::out_of_range for an id outside the vocabulary.
  void decode(std::span<const int32_t> ids, std::string& out) const;

  int32_t token_to_id(std::string_view token) const;
  const ModelSpec& spec() const { return spec_; }
  int32_t unk_id() const { return unk_id_; }
  size_t vocab_size() const { return spec_.vocab.size(); }

 private:
  struct Run;  // one encode call's state
  struct ImageTag {};
  WordPieceTokenizer(ImageTag, ModelSpec&& spec, CharTable table, DoubleArrayTrie trie,
                     std::vector<int32_t> single_id);
  void build_single_ids();
  void finish();  // the tables derived from the trie and the character table, and checks
  SpecialMatcher matcher_for(const EncodeParams& p) const;
  void encode_segment(Run& run, size_t begin, size_t end) const;

  ModelSpec spec_;
  CharTable table_;
  DoubleArrayTrie trie_;
  int32_t cont_root_ = -1;  // trie state after the continuing-subword prefix
  int32_t unk_id_ = -1;
  SpecialMatcher default_, all_;
  std::vector<uint8_t> is_special_;  // by id: skipped when decoding
  std::vector<int32_t> single_id_;   // by BMP code point: id of a punctuation / CJK word
  CharKind ascii_kind_[0x80];        // table_ for ASCII, flattened for the fast path
  char ascii_byte_[0x80];
};

}  // namespace qkv::wordpiece
