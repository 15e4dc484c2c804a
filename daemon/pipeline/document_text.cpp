#include "pipeline/document_text.hpp"

#include <utf8proc.h>

#include "io/utf8.hpp"

namespace qkv::pipeline {
namespace {

// Case data comes from utf8proc (Unicode's simple mappings and categories), not from a C
// locale: the packaged service may run where no C.UTF-8 locale files are installed.
char32_t simple_lower(char32_t cp) {
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

char32_t decode(std::string_view s, size_t at, size_t& len) {
  const auto b = static_cast<unsigned char>(s[at]);
  len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
  char32_t cp = len == 1 ? b : len == 2 ? b & 0x1F : len == 3 ? b & 0x0F : b & 0x07;
  for (size_t i = 1; i < len && at + i < s.size(); ++i)
    cp = (cp << 6) | (static_cast<unsigned char>(s[at + i]) & 0x3F);
  return cp;
}

bool cased_letter(char32_t cp) {
  const auto c = static_cast<utf8proc_int32_t>(cp);
  const auto cat = utf8proc_category(c);
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
         cat == UTF8PROC_CATEGORY_LT || utf8proc_isupper(c) || utf8proc_islower(c);
}

// Unicode's Final_Sigma, as CPython's unicodeobject.c handles it: a capital sigma preceded by
// a cased letter and not followed by one (case-ignorable marks skipped, approximated by
// combining marks U+0300..U+036F and the apostrophe) becomes the final form.
bool final_sigma(std::string_view s, size_t at, size_t len) {
  auto ignorable = [](char32_t c) { return c == U'\'' || (c >= 0x300 && c <= 0x36F); };
  bool before = false;
  for (size_t i = at; i > 0;) {
    size_t j = i - 1;
    while (j > 0 && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) --j;
    size_t n;
    const char32_t c = decode(s, j, n);
    i = j;
    if (ignorable(c)) continue;
    before = cased_letter(c);
    break;
  }
  if (!before) return false;
  for (size_t i = at + len; i < s.size();) {
    size_t n;
    const char32_t c = decode(s, i, n);
    i += n;
    if (ignorable(c)) continue;
    return !cased_letter(c);
  }
  return true;
}

}  // namespace

void append_lower(std::string_view text, std::string& out, std::vector<uint32_t>* origin,
                  uint32_t origin_base) {
  for (size_t at = 0; at < text.size();) {
    size_t len;
    const char32_t cp = decode(text, at, len);
    const size_t before = out.size();
    if (cp < 0x80) {
      out += static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    } else if (cp == 0x130) {  // SpecialCasing.txt: the one unconditional full mapping
      out += "i\xCC\x87";
    } else if (cp == 0x3A3 && final_sigma(text, at, len)) {
      io::utf8_append(0x3C2, out);
    } else {
      io::utf8_append(simple_lower(cp), out);
    }
    if (origin) origin->insert(origin->end(), out.size() - before, origin_base + uint32_t(at));
    at += len;
  }
}

DocumentText::DocumentText(std::string prefix, bool lower_case)
    : prefix_(std::move(prefix)), lower_case_(lower_case) {}

void DocumentText::prepare(std::string_view text, Prepared& out) const {
  out.origin_.clear();
  out.prefix_ = prefix_.size();
  if (identity()) {
    out.text_ = text;
    return;
  }
  out.owned_.clear();
  if (lower_case_) {
    // The prefix's bytes map to 0 (no byte of the document), the text's to where they were.
    append_lower(prefix_, out.owned_, nullptr, 0);
    out.origin_.assign(out.owned_.size(), 0);
    append_lower(text, out.owned_, &out.origin_, 0);
    out.origin_.push_back(static_cast<uint32_t>(text.size()));
  } else {
    out.owned_.reserve(prefix_.size() + text.size());
    out.owned_ += prefix_;
    out.owned_ += text;
  }
  out.text_ = out.owned_;
}

void DocumentText::Prepared::map_offsets(std::span<uint32_t> offsets) const {
  for (auto& o : offsets) {
    if (!origin_.empty())
      o = o < origin_.size() ? origin_[o] : origin_.back();
    else
      o = o < prefix_ ? 0 : o - static_cast<uint32_t>(prefix_);
  }
}

}  // namespace qkv::pipeline
