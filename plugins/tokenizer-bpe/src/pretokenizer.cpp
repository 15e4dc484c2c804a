// Each scanner follows its regex's alternatives in order and reproduces the backtracking
// outcome (leftmost-first, greedy) by direct reasoning, noted at each step.
#include "pretokenizer.hpp"

#include "char_class.hpp"

namespace qkv::bpe {
namespace {

using U8 = const unsigned char*;

struct Text {
  U8 s;
  size_t n;
  Char at(size_t i) const noexcept { return next_char(s + i, s + n); }
  // End of the run of characters whose class intersects `mask`, from i.
  size_t run(size_t i, uint8_t mask) const noexcept {
    while (i < n) {
      if (s[i] < 0x80) {
        if (!(next_char(s + i, s + n).cls & mask)) break;
        ++i;
        continue;
      }
      Char c = at(i);
      if (!(c.cls & mask)) break;
      i += c.len;
    }
    return i;
  }
};

constexpr uint8_t kLN = kLetter | kNumber;
inline bool is_punct(Char c) noexcept { return !(c.cls & (kLN | kSpace)); }

// 's 't 're 've 'm 'll 'd, case-sensitive (r50k). Returns the end or 0.
size_t contraction_cs(const Text& t, size_t i) noexcept {
  if (i + 1 >= t.n) return 0;
  const unsigned char a = t.s[i + 1];
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
  if (i + 2 >= t.n) return 0;
  const unsigned char b = t.s[i + 2];
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
  return 0;
}

// Simple case folding of one character to an ASCII letter the contractions use (ſ folds to s;
// no other non-ASCII character folds to t, r, e, v, m, l or d). 0 if none.
inline unsigned char fold(const Text& t, size_t i, size_t* len) noexcept {
  const unsigned char c = t.s[i];
  if (c < 0x80) {
    *len = 1;
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  }
  if (c == 0xC5 && i + 1 < t.n && t.s[i + 1] == 0xBF) {  // U+017F LATIN SMALL LETTER LONG S
    *len = 2;
    return 's';
  }
  return 0;
}

// Same contractions, case-insensitive (cl100k, o200k). Returns the end or 0.
size_t contraction_ci(const Text& t, size_t i) noexcept {
  if (i >= t.n || t.s[i] != '\'' || i + 1 >= t.n) return 0;
  size_t l1 = 0;
  const unsigned char a = fold(t, i + 1, &l1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 1 + l1;
  if (a != 'r' && a != 'v' && a != 'l') return 0;
  if (i + 1 + l1 >= t.n) return 0;
  size_t l2 = 0;
  const unsigned char b = fold(t, i + 1 + l1, &l2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
    return i + 1 + l1 + l2;
  return 0;
}

// The whitespace tail shared by all patterns, starting at whitespace character i:
//   [\s*[\r\n]+]  (with_newline): ends after the run's last \r or \n, if it has one;
//   \s+(?!\S)     the whole run at the end of text, else the run minus its last character;
//   \s+           a one-character run followed by non-space.
size_t whitespace(const Text& t, size_t i, bool with_newline) noexcept {
  size_t last_start = i, last_newline_end = 0, j = i;
  while (j < t.n) {
    Char c = t.at(j);
    if (!(c.cls & kSpace)) break;
    last_start = j;
    j += c.len;
    if (c.cls & kNewline) last_newline_end = j;
  }
  if (with_newline && last_newline_end) return last_newline_end;
  if (j == t.n) return j;
  return last_start > i ? last_start : j;
}

// \p{N}{1,3} after its first character (at i - its length): at most two more.
size_t numbers_upto3(const Text& t, size_t i) noexcept {
  for (int k = 0; k < 2 && i < t.n; ++k) {
    Char c = t.at(i);
    if (!(c.cls & kNumber)) break;
    i += c.len;
  }
  return i;
}

// ------------------------------------------------------------------ r50k
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
size_t scan_r50k(U8 s, size_t n, size_t i) {
  const Text t{s, n};
  if (s[i] == '\'') {
    if (size_t e = contraction_cs(t, i)) return e;
  }
  const size_t j = (s[i] == ' ' && i + 1 < n) ? i + 1 : i;
  const Char d = t.at(j);
  if (d.cls & kLetter) return t.run(j + d.len, kLetter);
  if (d.cls & kNumber) return t.run(j + d.len, kNumber);
  if (is_punct(d)) {
    size_t e = j + d.len;
    while (e < n) {
      Char c = t.at(e);
      if (!is_punct(c)) break;
      e += c.len;
    }
    return e;
  }
  return whitespace(t, i, false);
}

// Run of [^\s\p{L}\p{N}]+ from j (first character known to be in it), then [\r\n]* or
// [\r\n/]*.
size_t punct_tail(const Text& t, size_t j, bool slash) noexcept {
  while (j < t.n) {
    Char c = t.at(j);
    if (!is_punct(c)) break;
    j += c.len;
  }
  while (j < t.n && (t.s[j] == '\r' || t.s[j] == '\n' || (slash && t.s[j] == '/'))) ++j;
  return j;
}

// ------------------------------------------------------------------ cl100k
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*
// |\s*[\r\n]+|\s+(?!\S)|\s+
size_t scan_cl100k(U8 s, size_t n, size_t i) {
  const Text t{s, n};
  if (s[i] == '\'') {
    if (size_t e = contraction_ci(t, i)) return e;
  }
  const Char c = t.at(i);
  if (c.cls & kLetter) return t.run(i + c.len, kLetter);
  if (c.cls & kNumber) return numbers_upto3(t, i + c.len);
  // c may be the optional prefix of a letter run (anything but \r \n L N)
  if (!(c.cls & kNewline) && i + c.len < n) {
    const Char d = t.at(i + c.len);
    if (d.cls & kLetter) return t.run(i + c.len + d.len, kLetter);
  }
  size_t j = i;
  if (s[i] == ' ' && i + 1 < n && is_punct(t.at(i + 1))) j = i + 1;
  const Char p = j == i ? c : t.at(j);
  if (is_punct(p)) return punct_tail(t, j + p.len, false);
  return whitespace(t, i, true);
}

// ------------------------------------------------------------------ o200k
// A = [^\r\n\p{L}\p{N}]?  U = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]  W = [\p{Ll}\p{Lm}\p{Lo}\p{M}]
// C = (?i:'s|'t|'re|'ve|'m|'ll|'d)
// A U* W+ C? | A U+ W* C? | \p{N}{1,3} | ?[^\s\p{L}\p{N}]+[\r\n/]* | \s*[\r\n]+ | \s+(?!\S) | \s+
constexpr uint8_t kU = kUpper | kLetterOther | kMark;
constexpr uint8_t kW = kLower | kLetterOther | kMark;

size_t with_contraction(const Text& t, size_t e) noexcept {
  if (e < t.n && t.s[e] == '\'') {
    if (size_t c = contraction_ci(t, e)) return c;
  }
  return e;
}

// U* W+ C? from s; 0 when it cannot match there. U* is greedy; if W+ then fails, backtracking
// gives back characters of the U run up to its last character that is also in W.
size_t o200k_alt1(const Text& t, size_t s) noexcept {
  size_t a = s, last_w_end = 0;
  while (a < t.n) {
    Char d = t.at(a);
    if (!(d.cls & kU)) break;
    a += d.len;
    if (d.cls & kW) last_w_end = a;
  }
  if (a < t.n) {
    Char d = t.at(a);
    if (d.cls & kLower) return with_contraction(t, t.run(a + d.len, kW));
  }
  return last_w_end ? with_contraction(t, last_w_end) : 0;
}

// U+ W* C? from s; 0 when it cannot match there.
size_t o200k_alt2(const Text& t, size_t s) noexcept {
  const size_t a = t.run(s, kU);
  if (a == s) return 0;
  return with_contraction(t, t.run(a, kW));
}

size_t scan_o200k(U8 s, size_t n, size_t i) {
  const Text t{s, n};
  const Char c = t.at(i);
  const bool prefix = !(c.cls & (kNewline | kLN)) && i + c.len < n;
  if (prefix) {
    if (size_t e = o200k_alt1(t, i + c.len)) return e;
  }
  if (c.cls & (kLetter | kMark)) {
    if (size_t e = o200k_alt1(t, i)) return e;
  }
  if (prefix) {
    if (size_t e = o200k_alt2(t, i + c.len)) return e;
  }
  if (c.cls & (kLetter | kMark)) {
    if (size_t e = o200k_alt2(t, i)) return e;
  }
  if (c.cls & kNumber) return numbers_upto3(t, i + c.len);
  size_t j = i;
  if (s[i] == ' ' && i + 1 < n && is_punct(t.at(i + 1))) j = i + 1;
  const Char p = j == i ? c : t.at(j);
  if (is_punct(p)) return punct_tail(t, j + p.len, true);
  return whitespace(t, i, true);
}

}  // namespace

PieceScanner scanner_for(Pattern pattern) noexcept {
  switch (pattern) {
    case Pattern::kR50k:
      return scan_r50k;
    case Pattern::kCl100k:
      return scan_cl100k;
    case Pattern::kO200k:
      return scan_o200k;
  }
  return scan_r50k;
}

std::optional<Pattern> pattern_from_regex(std::string_view regex) noexcept {
  // The spellings of tiktoken 1.0.22 (and of HF's ByteLevel pre-tokenizer for r50k).
  static constexpr std::string_view r50k[] = {
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"};
  static constexpr std::string_view cl100k[] = {
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
  static constexpr std::string_view o200k[] = {
      R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
  for (auto p : r50k)
    if (regex == p) return Pattern::kR50k;
  for (auto p : cl100k)
    if (regex == p) return Pattern::kCl100k;
  for (auto p : o200k)
    if (regex == p) return Pattern::kO200k;
  return std::nullopt;
}

}  // namespace qkv::bpe
