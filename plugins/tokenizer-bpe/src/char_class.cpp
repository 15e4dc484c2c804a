#include "char_class.hpp"

#include <utf8proc.h>

#include <array>
#include <memory>

namespace qkv::bpe {
namespace {

uint8_t classify(uint32_t cp) noexcept {
  // Regex \s is Unicode White_Space: every Z* separator plus these controls (PropList.txt).
  if (cp == '\r' || cp == '\n') return kSpace | kNewline;
  if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x85) return kSpace;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LT:
      return kUpper;
    case UTF8PROC_CATEGORY_LL:
      return kLower;
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return kLetterOther;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
      return kMark;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return kNumber;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
      return kSpace;
    default:
      return 0;
  }
}

// Plane 0 classes, filled from utf8proc at first use (a cache, not a hand-kept table).
struct Bmp {
  std::array<uint8_t, 0x10000> cls;
  Bmp() noexcept {
    for (uint32_t cp = 0; cp < 0x10000; ++cp) cls[cp] = classify(cp);
  }
};
const Bmp& bmp() noexcept {
  static const Bmp table;
  return table;
}
const Bmp& g_bmp = bmp();

inline bool cont(unsigned char c) noexcept { return (c & 0xC0) == 0x80; }

}  // namespace

// Built at load time: no initialisation guard on the hot path.
const uint8_t* detail::g_bmp_class = g_bmp.cls.data();

uint8_t char_class(uint32_t cp) noexcept { return cp < 0x10000 ? g_bmp.cls[cp] : classify(cp); }

uint32_t code_point(const unsigned char* p, const unsigned char* end, uint8_t* len) noexcept {
  const unsigned char c = p[0];
  const ptrdiff_t left = end - p;
  if (c < 0x80) {
    *len = 1;
    return c;
  }
  if (c >= 0xC2 && c < 0xE0 && left >= 2 && cont(p[1])) {
    *len = 2;
    return (uint32_t(c & 0x1F) << 6) | (p[1] & 0x3F);
  }
  if (c >= 0xE0 && c < 0xF0 && left >= 3 && cont(p[1]) && cont(p[2])) {
    uint32_t cp = (uint32_t(c & 0x0F) << 12) | (uint32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) {
      *len = 3;
      return cp;
    }
  } else if (c >= 0xF0 && c < 0xF5 && left >= 4 && cont(p[1]) && cont(p[2]) && cont(p[3])) {
    uint32_t cp = (uint32_t(c & 0x07) << 18) | (uint32_t(p[1] & 0x3F) << 12) |
                  (uint32_t(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    if (cp >= 0x10000 && cp <= 0x10FFFF) {
      *len = 4;
      return cp;
    }
  }
  *len = 1;
  return 0xFFFFFFFFu;  // invalid byte: its own "other" character
}

Char detail::decode_char(const unsigned char* p, const unsigned char* end) noexcept {
  uint8_t len = 1;
  uint32_t cp = code_point(p, end, &len);
  if (cp == 0xFFFFFFFFu) return {0, 1};
  return {char_class(cp), len};
}

}  // namespace qkv::bpe
