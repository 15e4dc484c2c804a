// Character classes the pre-tokenization patterns test, from utf8proc's Unicode data.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qkv::bpe {

// Bit flags; a code point has exactly one of the category bits (or none: "other").
enum CharClass : uint8_t {
  kUpper = 1,        // Lu, Lt
  kLower = 2,        // Ll
  kLetterOther = 4,  // Lm, Lo: in both o200k letter classes
  kMark = 8,         // Mn, Mc, Me
  kNumber = 16,      // Nd, Nl, No
  kSpace = 32,       // Unicode White_Space (regex \s)
  kNewline = 64      // \r or \n (also has kSpace)
};
constexpr uint8_t kLetter = kUpper | kLower | kLetterOther;

// Class of one code point (computed once per plane 0 code point, on first use).
uint8_t char_class(uint32_t cp) noexcept;

// One decoded character: its class and byte length. Invalid UTF-8 decodes as a one-byte
// character of class 0 (never crashes, keeps bytes exact).
struct Char {
  uint8_t cls;
  uint8_t len;
};

namespace detail {
// Classes of plane 0, filled from utf8proc when the library loads.
extern const uint8_t* g_bmp_class;
Char decode_char(const unsigned char* p, const unsigned char* end) noexcept;
}  // namespace detail

// ASCII fast path (inlined into the scanners), else full decode. `p < end` required.
inline Char next_char(const unsigned char* p, const unsigned char* end) noexcept {
  if (p[0] < 0x80) return {detail::g_bmp_class[p[0]], 1};
  return detail::decode_char(p, end);
}

// Code point of the character at p (for case-insensitive contraction matching).
uint32_t code_point(const unsigned char* p, const unsigned char* end, uint8_t* len) noexcept;

}  // namespace qkv::bpe
