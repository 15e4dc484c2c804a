// UTF-8 validation and repair (WHATWG "maximal subpart" rule: one U+FFFD per maximal invalid
// subpart, as Python's bytes.decode(errors="replace") and TextDecoder do). Surrogates encoded
// in UTF-8 (ED A0..BF xx), overlong forms and code points above U+10FFFF are invalid.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace qkv::io {

// Offset of the first byte of the first invalid subpart, or text.size() when all is valid.
size_t utf8_first_invalid(std::string_view text) noexcept;

inline bool utf8_valid(std::string_view text) noexcept {
  return utf8_first_invalid(text) == text.size();
}

// Appends `text` to `out` with every maximal invalid subpart replaced by U+FFFD (EF BF BD).
void utf8_repair_append(std::string_view text, std::string& out);

inline std::string utf8_repair(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  utf8_repair_append(text, out);
  return out;
}

// Length (1..4) of the valid sequence starting at at[0] (at must not be empty), or 0 with
// *bad = length of the maximal invalid subpart there.
size_t utf8_sequence(std::string_view at, size_t* bad) noexcept;

// Appends the UTF-8 encoding of a Unicode scalar value (cp < 0x110000, not a surrogate).
void utf8_append(char32_t cp, std::string& out);

}  // namespace qkv::io
