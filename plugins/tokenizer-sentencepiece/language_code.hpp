// MarianTokenizer's language codes (tokenization_marian.py, language_code_re = ">>.+<<"):
// remove_language_code takes re.match's code at the start of the text as one token and
// segments language_code_re.sub("", text), the text with every match removed.
// Python's greedy `.+` (no '\n') makes a match run from the first ">>" of a line to the last
// "<<" of that line, with at least one character between them: one match per line at most.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::sentencepiece {

struct LanguageCodes {
  size_t code_end = 0;  // the leading code is text[0, code_end); 0: the text has none
  // text with every match removed, and for each of its bytes (and its end) the byte of text
  std::string rest;
  std::vector<uint32_t> rest_to_text;
  bool any = false;  // false: no match, rest and rest_to_text are left empty
};

// Fills `out` for `text` (thread-local scratch at the caller; no allocation when nothing matches).
void split_language_codes(std::string_view text, LanguageCodes& out);

}  // namespace qkv::sentencepiece
