// What a document's text becomes before it is tokenized: a prefix (input.prefix, or a
// sentence-transformers prompt) in front, then the model folder's do_lower_case
// (sentence_transformers/models/Transformer.py lowercases prompt + text with Python's
// str.lower()); and the token offsets of that text mapped back onto the document's own bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::pipeline {

class DocumentText {
 public:
  DocumentText() = default;
  DocumentText(std::string prefix, bool lower_case);

  // Nothing to do: documents are tokenized as they are.
  bool identity() const { return prefix_.empty() && !lower_case_; }
  const std::string& prefix() const { return prefix_; }
  bool lower_case() const { return lower_case_; }

  // One document's prepared text; reused from document to document by one thread.
  class Prepared {
   public:
    std::string_view text() const { return text_; }
    // Byte offsets into text() -> into the document's text. A token inside the prefix gets
    // the empty span at 0: it comes from no byte of the document.
    void map_offsets(std::span<uint32_t> offsets) const;

   private:
    friend class DocumentText;
    std::string owned_;
    std::string_view text_;
    size_t prefix_ = 0;
    std::vector<uint32_t> origin_;  // lower_case: document byte of each prepared byte, + end
  };

  // `text` is valid UTF-8 (the input policy checked it); `out.text()` views `text` or `out`.
  void prepare(std::string_view text, Prepared& out) const;

 private:
  std::string prefix_;
  bool lower_case_ = false;
};

// Python's str.lower() of valid UTF-8: full lowercase mappings (U+0130 -> "i" U+0307) and
// the final sigma; `origin` (optional) gets, per output byte, the input byte it came from.
void append_lower(std::string_view text, std::string& out, std::vector<uint32_t>* origin,
                  uint32_t origin_base);

}  // namespace qkv::pipeline
