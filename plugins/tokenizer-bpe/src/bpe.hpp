// Byte-level BPE: pre-tokenization, whole-piece lookup, rank-ordered merging, special tokens,
// decoding. Immutable after construction: one instance serves many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hash_tables.hpp"
#include "post_processor.hpp"
#include "pretokenizer.hpp"

namespace qkv::bpe {

// What a loader produces; the model is built from it.
struct BpeSpec {
  struct Token {
    std::string bytes;
    uint32_t id;
    // Specials only (tokenizer.json added_tokens `lstrip`): a match absorbs the whitespace
    // before it, back to the previous special's end, as HF's AddedVocabulary does.
    bool lstrip = false;
  };
  std::vector<Token> tokens;  // mergeable vocabulary (all 256 single bytes required)
  // Merge list of HF / GPT-2 files, by rank: (left id, right id). Empty: tiktoken semantics,
  // where two adjacent parts merge when their joined bytes are a token, ranked by its id.
  std::vector<std::pair<uint32_t, uint32_t>> merges;
  bool has_merges = false;
  // tiktoken (and HF ignore_merges): a piece that is a token is that token. Otherwise the
  // shortcut is kept only for tokens the merges themselves produce from their bytes.
  bool whole_piece_lookup = true;
  std::vector<Token> specials;  // special / added tokens (matched in text when allowed)
  Pattern pattern = Pattern::kR50k;
  bool add_prefix_space = false;  // HF ByteLevel option: a space before text not starting with one
  bool match_specials_by_default = false;  // tokenizer.json: true; tiktoken, GPT-2 files: false
  SpecialWrap wrap;                        // what add_special adds (tokenizer.json post_processor)
};

// Which special tokens an encode call matches in the text.
struct SpecialSelection {
  enum Kind { kDefault, kNone, kAll, kList } kind = kDefault;
  std::span<const std::string_view> names;  // kList
};

class Bpe {
 public:
  explicit Bpe(BpeSpec spec);  // throws std::invalid_argument on an inconsistent vocabulary

  // Appends ids (and, if `offsets`, 2 per id: [begin, end) byte offsets in text).
  // max_length > 0 keeps at most that many ids from this call. Throws std::invalid_argument
  // for a special name unknown to this vocabulary.
  void encode(std::string_view text, const SpecialSelection& specials, uint32_t max_length,
              std::vector<int32_t>& ids, std::vector<uint32_t>* offsets) const;

  // Appends the bytes of `ids`; throws std::out_of_range naming the first unknown id.
  void decode(std::span<const int32_t> ids, std::string& out) const;
  // Bytes of one id, or an empty view with ok=false.
  bool token_bytes(int32_t id, std::string_view* out) const noexcept;

  // Id of these bytes (mergeable or special); -1 if none.
  int32_t token_to_id(std::string_view bytes) const noexcept;
  uint32_t vocab_size() const noexcept { return uint32_t(offset_.size() - 1); }
  int32_t special_id(std::string_view name) const noexcept;
  const SpecialWrap& special_wrap() const noexcept { return wrap_; }

  // The built tables as a vocabulary image's payload (format: bpe_image.cpp), and back.
  // from_image treats the bytes as untrusted: it checks every id, offset and table slot and
  // throws ImageError instead of building an instance that could read out of bounds.
  std::string image() const;
  static std::unique_ptr<Bpe> from_image(std::string_view payload);

 private:
  struct Special {
    std::string bytes;
    uint32_t id;
    bool lstrip;
  };
  class Output;
  struct ImageTag {};
  Bpe(ImageTag, std::string_view payload);
  static uint64_t next_serial() noexcept;
  void encode_ordinary(const unsigned char* s, size_t n, uint32_t base, Output& out) const;
  void encode_pieces(const unsigned char* s, size_t n, uint32_t base, Output& out) const;
  void encode_piece(const unsigned char* p, size_t n, uint64_t hash, uint32_t base,
                    Output& out) const;
  void merge_small(const unsigned char* p, size_t n, uint32_t base, Output& out) const;
  void merge_large(const unsigned char* p, size_t n, uint32_t base, Output& out) const;
  // The ids BPE gives these bytes without the whole-piece shortcut (used at load).
  std::vector<uint32_t> merge_only(std::string_view bytes) const;
  void build_pairs(const BpeSpec& spec);

  std::string arena_;             // bytes of every id, back to back
  std::vector<uint32_t> offset_;  // id -> start in arena_; offset_[id+1] - offset_[id] = length
  std::vector<uint8_t> known_;    // id -> 1 if the id exists
  uint32_t byte_id_[256];
  PairTable::Merge byte_pair_[256 * 256];  // merges of two single bytes: the first lookups
  uint64_t serial_;                        // distinguishes instances in per-thread caches
  TokenMap map_;
  PairTable pairs_;
  uint32_t max_rank_ = 0;
  std::vector<Special> specials_;  // longest first, so the first match at a position is longest
  bool special_first_[256] = {};
  PieceScanner scan_;
  bool add_prefix_space_;
  bool match_specials_by_default_;
  SpecialWrap wrap_;
};

}  // namespace qkv::bpe
