#include "bert_normalizer.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace qkv::wordpiece {

namespace {
// Code point ranges assigned by Unicode 8.0 (generated from the UCD's DerivedAge.txt).
constexpr std::pair<char32_t, char32_t> kUnicode8[] = {
#include "unicode8_ranges.inc"
};
}  // namespace

bool in_unicode8(char32_t c) {
  static const std::vector<std::pair<char32_t, char32_t>> sorted = [] {
    std::vector<std::pair<char32_t, char32_t>> v(std::begin(kUnicode8), std::end(kUnicode8));
    std::sort(v.begin(), v.end());
    return v;
  }();
  auto it = std::upper_bound(sorted.begin(), sorted.end(), std::make_pair(c, char32_t(0x10FFFF)));
  return it != sorted.begin() && std::prev(it)->second >= c;
}

bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static utf8proc_category_t category(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

// Rust's char::is_whitespace (the White_Space property): the separators Zs/Zl/Zp plus the
// controls TAB..CR and NEL, which Unicode also lists as White_Space.
bool is_bert_whitespace(char32_t c) {
  if (c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85) return true;
  if (c < 0x80) return false;
  auto cat = category(c);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

// HF's is_control: "other" = Cc, Cf or Co in the unicode_categories crate (Unicode 8.0; it
// leaves out Cs and Cn), except TAB, LF and CR, which count as whitespace.
bool is_bert_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r' || !in_unicode8(c)) return false;
  auto cat = category(c);
  if (cat == UTF8PROC_CATEGORY_CO) {
    // The crate's tables list UnicodeData.txt's "<..., First>" / "<..., Last>" lines as
    // single chars, so only the first and last code point of each private-use range count.
    return category(c - 1) != UTF8PROC_CATEGORY_CO || category(c + 1) != UTF8PROC_CATEGORY_CO;
  }
  return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF;
}

bool is_bert_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126))
    return true;
  if (!in_unicode8(c)) return false;
  switch (category(c)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

bool is_bert_nonspacing_mark(char32_t c) {
  // U+1734 HANUNOO SIGN PAMUDPOD was Mn in Unicode 8.0 (Mc since 14.0); the goldens confirm HF
  // strips it. It is the one category change since 8.0 that the corpus exercises.
  if (c == 0x1734) return true;
  return c >= 0x300 && in_unicode8(c) && category(c) == UTF8PROC_CATEGORY_MN;
}

// Rust's char::to_lowercase: the simple mapping, except the one unconditional multi-char
// mapping of SpecialCasing.txt (U+0130 LATIN CAPITAL LETTER I WITH DOT ABOVE).
static int lower_full(char32_t c, char32_t* out) {
  if (c == 0x130) {
    out[0] = 'i';
    out[1] = 0x307;
    return 2;
  }
  out[0] = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
  return 1;
}

void normalize_char(char32_t cp, const NormalizerFlags& flags, CharResult& out) {
  out.nchars = 0;
  if (flags.clean_text && (cp == 0 || cp == 0xFFFD || is_bert_control(cp))) {
    out.kind = CharKind::kSkip;
    return;
  }
  const bool cjk = flags.handle_chinese_chars && is_chinese_char(cp);

  // NFD (canonical decomposition only) then drop Mn. Canonical reordering is not repeated
  // here: after Mn removal it could only move non-Mn combining chars (a handful of Mc with a
  // non-zero class), which no corpus has shown.
  char32_t stage[8];
  int n = 1;
  stage[0] = cp;
  if (flags.strip()) {
    utf8proc_int32_t buf[8];
    int last = 0;
    auto r = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, 8, UTF8PROC_DECOMPOSE,
                                     &last);
    n = 0;
    if (r > 0 && r <= 8) {
      for (int i = 0; i < r; ++i)
        if (!is_bert_nonspacing_mark(static_cast<char32_t>(buf[i])))
          stage[n++] = static_cast<char32_t>(buf[i]);
    } else {
      stage[n++] = cp;
    }
  }
  for (int i = 0; i < n; ++i) {
    char32_t low[2];
    int m = flags.lowercase ? lower_full(stage[i], low) : (low[0] = stage[i], 1);
    for (int j = 0; j < m; ++j) out.chars[out.nchars++] = low[j];
  }

  if (cjk) {
    out.kind = CharKind::kCjk;
    return;
  }
  // Pre-tokenizer roles of the normalized chars.
  bool all_word = true, all_space = true;
  for (int i = 0; i < out.nchars; ++i) {
    char32_t c = out.chars[i];
    Role r = is_bert_whitespace(c)    ? Role::kSpace
             : is_bert_punctuation(c) ? Role::kPunct
                                      : Role::kWord;
    out.roles[i] = r;
    all_word &= r == Role::kWord;
    all_space &= r == Role::kSpace;
  }
  if (all_word)
    out.kind = CharKind::kWord;
  else if (all_space)
    out.kind = CharKind::kSpace;
  else if (out.nchars == 1)
    out.kind = CharKind::kPunct;
  else
    out.kind = CharKind::kMixed;
}

int utf8_encode(char32_t c, char* o) {
  if (c < 0x80) {
    o[0] = static_cast<char>(c);
    return 1;
  }
  if (c < 0x800) {
    o[0] = static_cast<char>(0xC0 | (c >> 6));
    o[1] = static_cast<char>(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    o[0] = static_cast<char>(0xE0 | (c >> 12));
    o[1] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    o[2] = static_cast<char>(0x80 | (c & 0x3F));
    return 3;
  }
  o[0] = static_cast<char>(0xF0 | (c >> 18));
  o[1] = static_cast<char>(0x80 | ((c >> 12) & 0x3F));
  o[2] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
  o[3] = static_cast<char>(0x80 | (c & 0x3F));
  return 4;
}

CharTable::CharTable(const NormalizerFlags& flags) : flags_(flags), entries_(0x10000) {
  CharResult r;
  std::string pool;
  pool.reserve(0x10000 * 3);
  for (char32_t cp = 0; cp < 0x10000; ++cp) {
    Entry& e = entries_[cp];
    if (cp >= 0xD800 && cp <= 0xDFFF) {  // never decoded from valid UTF-8
      e = {CharKind::kSkip, 0, 0, 0, 0};
      continue;
    }
    normalize_char(cp, flags, r);
    e.kind = r.kind;
    e.nchars = r.nchars;
    e.pad = 0;
    e.offset = static_cast<uint32_t>(pool.size());
    char buf[4];
    for (int i = 0; i < r.nchars; ++i) pool.append(buf, utf8_encode(r.chars[i], buf));
    e.len = static_cast<uint8_t>(pool.size() - e.offset);
  }
  pool_ = std::move(pool);
}

void CharTable::save(image::ImageWriter& out) const {
  const uint64_t pool = pool_.size();
  out.put(pool);
  out.put_array(entries_.data(), entries_.size());
  out.put_array(pool_.data(), pool_.size());
}

CharTable::CharTable(const NormalizerFlags& flags, image::ImageReader& in)
    : flags_(flags), entries_(0x10000) {
  const uint64_t pool = in.get<uint64_t>();
  in.get_array(entries_.data(), entries_.size());
  for (const Entry& e : entries_)
    if (e.kind > CharKind::kMixed || uint64_t(e.offset) + e.len > pool)
      throw image::ImageError("image: bad character table entry");
  pool_ = in.get_bytes(pool);  // bounds-checked against the payload first
}

std::string unicode_identity() {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over the compiled-in ranges
  for (const auto& [lo, hi] : kUnicode8)
    for (char32_t v : {lo, hi}) h = (h ^ v) * 0x100000001b3ull;
  return std::string("utf8proc ") + utf8proc_version() + " unicode " + utf8proc_unicode_version() +
         " age8 " + std::to_string(std::size(kUnicode8)) + " " + std::to_string(h);
}

}  // namespace qkv::wordpiece
