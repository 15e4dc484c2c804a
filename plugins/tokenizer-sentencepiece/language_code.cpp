// split_language_codes: re.match / re.sub of ">>.+<<" (tokenization_marian.py,
// MarianTokenizer.remove_language_code) over the bytes of UTF-8 text: '<', '>' and '\n' are
// ASCII, so byte positions are character boundaries wherever a match can begin or end.
#include "language_code.hpp"

#include <cstdint>

namespace qkv::sentencepiece {

void split_language_codes(std::string_view text, LanguageCodes& out) {
  out.code_end = 0;
  out.any = false;
  out.rest.clear();
  out.rest_to_text.clear();
  size_t kept = 0;  // text[kept, ...) not yet copied to rest
  auto keep = [&](size_t end) {
    for (size_t i = kept; i < end; ++i) {
      out.rest.push_back(text[i]);
      out.rest_to_text.push_back(static_cast<uint32_t>(i));
    }
  };
  for (size_t line = 0; line < text.size();) {
    size_t line_end = text.find('\n', line);
    if (line_end == std::string_view::npos) line_end = text.size();
    const std::string_view l = text.substr(line, line_end - line);
    const size_t open = l.find(">>");
    const size_t close = l.rfind("<<");
    // ">>" then at least one character then "<<": the greedy match ends at the line's last "<<"
    if (open != std::string_view::npos && close != std::string_view::npos && close >= open + 3) {
      const size_t begin = line + open, end = line + close + 2;
      if (begin == 0) out.code_end = end;
      if (!out.any) {
        out.any = true;
        out.rest.reserve(text.size());
        out.rest_to_text.reserve(text.size() + 1);
      }
      keep(begin);
      kept = end;
    }
    line = line_end + 1;
  }
  if (!out.any) return;
  keep(text.size());
  out.rest_to_text.push_back(static_cast<uint32_t>(text.size()));
}

}  // namespace qkv::sentencepiece
