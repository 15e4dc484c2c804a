// BERT normalization + pre-tokenization, decided one code point at a time.
//
// Mirrors HuggingFace tokenizers' BertNormalizer followed by BertPreTokenizer:
//   clean_text            drop NUL, U+FFFD and "other" chars (Cc, Cf, Co; not \t \n \r),
//                         whitespace becomes a space
//   handle_chinese_chars  CJK ideographs become words of their own
//   strip_accents         NFD, then drop nonspacing marks (Mn)
//   lowercase             full lowercase mapping (U+0130 -> "i" U+0307, as Rust's char)
// then the pre-tokenizer splits on whitespace and isolates each punctuation char (ASCII
// punctuation or Unicode P*). Every property comes from utf8proc; nothing is hand-tabled.
//
// Unicode versions: HF takes whitespace, lowercase and NFD from Rust's std / unicode-
// normalization (current Unicode), but control (Cc Cf Co), punctuation (P*) and nonspacing
// mark (Mn) from the unicode_categories crate, whose tables are Unicode 8.0. So those three
// tests here also require the code point to be assigned in Unicode 8.0 (in_unicode8, from the
// UCD's DerivedAge.txt at build time); e.g. U+1DFA (Mn since 14.0) is not stripped by HF.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vocab_image/image_bytes.hpp"

namespace qkv::wordpiece {

struct NormalizerFlags {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool lowercase = true;
  std::optional<bool> strip_accents;  // unset: follows lowercase (as HF)
  bool strip() const { return strip_accents.value_or(lowercase); }
};

// What becomes of one input code point.
enum class CharKind : uint8_t {
  kSkip,   // removed by clean_text (no word boundary)
  kSpace,  // word boundary
  kPunct,  // a word of its own (output bytes), boundaries on both sides
  kCjk,    // a word of its own (output bytes), boundaries on both sides
  kWord,   // output bytes (maybe empty) join the current word
  kMixed,  // output chars have different roles: see `roles` (rare, e.g. U+1FEF -> "`")
};

enum class Role : uint8_t { kSpace, kPunct, kWord };

struct CharResult {
  CharKind kind = CharKind::kWord;
  uint8_t nchars = 0;                // normalized chars produced
  std::array<char32_t, 12> chars{};  // normalized code points
  std::array<Role, 12> roles{};      // pre-tokenizer role of each (kMixed)
};

// The CJK ranges of HF tokenizers' is_chinese_char. The last supplementary block starts at
// U+2B920 there (Google's original BERT says U+2B820); we follow HF, whose ids we match.
bool is_chinese_char(char32_t cp);
bool is_bert_whitespace(char32_t cp);
bool is_bert_control(char32_t cp);
bool is_bert_punctuation(char32_t cp);
bool is_bert_nonspacing_mark(char32_t cp);
bool in_unicode8(char32_t cp);

// Computes the fate of any code point (slow path: a few utf8proc calls).
void normalize_char(char32_t cp, const NormalizerFlags& flags, CharResult& out);

// Precomputed fate of every code point below U+10000 for one set of flags; code points above
// go through normalize_char. Immutable after construction, so shareable across threads.
class CharTable {
 public:
  explicit CharTable(const NormalizerFlags& flags);

  struct Entry {
    CharKind kind;
    uint8_t nchars;  // normalized chars (for max_input_chars_per_word)
    uint8_t len;     // output UTF-8 bytes
    uint8_t pad;
    uint32_t offset;  // into bytes()
  };
  const Entry& bmp(char32_t cp) const { return entries_[cp]; }
  const char* bytes() const { return pool_.data(); }
  const NormalizerFlags& flags() const { return flags_; }

  // The table as a vocabulary image's section, and back (for the same flags: the image's key
  // covers them). The loading constructor checks every entry's kind and that its bytes lie
  // in the pool (offset + len <= pool); throws image::ImageError otherwise.
  void save(image::ImageWriter& out) const;
  CharTable(const NormalizerFlags& flags, image::ImageReader& in);

 private:
  NormalizerFlags flags_;
  std::vector<Entry> entries_;
  std::string pool_;
};

// What the tables above are computed from besides the flags: utf8proc's version and Unicode
// version, and the Unicode 8.0 ranges compiled in (a vocabulary image's key includes it, so
// an image built against other Unicode data is not used).
std::string unicode_identity();

// Appends the UTF-8 encoding of cp; returns bytes written (1..4).
int utf8_encode(char32_t cp, char* out);

}  // namespace qkv::wordpiece
