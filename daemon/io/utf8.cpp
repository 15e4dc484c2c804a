#include "utf8.hpp"

#include <cstdint>
#include <cstring>

namespace qkv::io {
namespace {

// Length of the valid sequence at p (1..4), or 0 with *bad = bytes of the maximal invalid
// subpart (>= 1) when the sequence there is invalid.
inline size_t sequence_at(const unsigned char* p, size_t left, size_t* bad) noexcept {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0)
      lo = 0xA0;  // no overlongs
    else if (b0 == 0xED)
      hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0)
      lo = 0x90;  // no overlongs
    else if (b0 == 0xF4)
      hi = 0x8F;  // nothing above U+10FFFF
  } else {
    *bad = 1;  // a continuation byte or a byte that never starts a sequence
    return 0;
  }
  size_t i = 1;
  for (; i < need; ++i) {
    if (i >= left) break;
    const unsigned char b = p[i];
    const unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
    if (b < l || b > h) break;
  }
  if (i == need) return need;
  *bad = i;  // the lead byte and the continuation bytes that fit form the maximal subpart
  return 0;
}

}  // namespace

size_t utf8_sequence(std::string_view at, size_t* bad) noexcept {
  return sequence_at(reinterpret_cast<const unsigned char*>(at.data()), at.size(), bad);
}

size_t utf8_first_invalid(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    size_t bad = 0;
    size_t len = sequence_at(p + i, n - i, &bad);
    if (len == 0) return i;
    i += len;
  }
  return n;
}

void utf8_repair_append(std::string_view text, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0, run = 0;  // [run, i) is valid and not yet copied
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    size_t bad = 0;
    size_t len = sequence_at(p + i, n - i, &bad);
    if (len) {
      i += len;
      continue;
    }
    out.append(text.data() + run, i - run);
    out.append("\xEF\xBF\xBD");
    i += bad;
    run = i;
  }
  out.append(text.data() + run, n - run);
}

void utf8_append(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace qkv::io
