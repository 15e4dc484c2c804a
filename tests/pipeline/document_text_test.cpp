// pipeline/document_text.hpp and pipeline/token_window.hpp: the expected strings are what
// CPython 3.11's str.lower() gives (printed by /usr/bin/python3, not by qkv), and HF's
// truncation (tokenization_utils_base.py truncate_sequences, then [CLS] ... [SEP]).
#include <gtest/gtest.h>

#include "pipeline/document_text.hpp"
#include "pipeline/token_window.hpp"

namespace qkv::pipeline {
namespace {

std::string lower(std::string_view s) {
  std::string out;
  append_lower(s, out, nullptr, 0);
  return out;
}

TEST(DocumentText, LowerCaseAsPythonStrLower) {
  EXPECT_EQ(lower("Hello WORLD 123"), "hello world 123");
  EXPECT_EQ(lower("ΟΔΟΣ ΟΔΟΣ."),
            "\xce\xbf\xce\xb4\xce\xbf\xcf\x82 \xce\xbf\xce\xb4\xce\xbf\xcf\x82.");
  EXPECT_EQ(lower("Σ"), "\xcf\x83");               // no cased letter before: not final
  EXPECT_EQ(lower("AΣ'Β"), "a\xcf\x83'\xce\xb2");  // a cased letter follows the apostrophe
  EXPECT_EQ(lower("ΑΣ\xcc\x81 x"), "\xce\xb1\xcf\x82\xcc\x81 x");
  EXPECT_EQ(lower("İstanbul"), "i\xcc\x87stanbul");  // the full mapping: one byte longer
  EXPECT_EQ(lower("ÀÉÎ Ⱥ"), "\xc3\xa0\xc3\xa9\xc3\xae \xe2\xb1\xa5");
}

TEST(DocumentText, PrefixAndOffsetsBackOnTheDocument) {
  const DocumentText t("query: ", false);
  DocumentText::Prepared p;
  t.prepare("Hi there", p);
  EXPECT_EQ(p.text(), "query: Hi there");
  std::vector<uint32_t> offs{0, 5, 5, 6, 7, 9, 10, 15};  // "query" ":" "Hi" "there"
  p.map_offsets(offs);
  EXPECT_EQ(offs, (std::vector<uint32_t>{0, 0, 0, 0, 0, 2, 3, 8}));
  // Lower-casing that changes byte lengths keeps offsets on the document's bytes.
  const DocumentText l("Q: ", true);
  l.prepare("İx", p);
  EXPECT_EQ(p.text(), "q: i\xcc\x87x");
  std::vector<uint32_t> o2{3, 6, 6, 7};  // "i̇" and "x" in the prepared text
  p.map_offsets(o2);
  EXPECT_EQ(o2, (std::vector<uint32_t>{0, 2, 2, 3}));
  // Nothing to do: the text itself.
  const DocumentText none;
  const std::string doc = "As is";
  none.prepare(doc, p);
  EXPECT_EQ(p.text().data(), doc.data());
}

TEST(TokenWindow, TruncationKeepsTheSpecialsAtTheEnds) {
  const std::vector<int32_t> empty{101, 102};  // [CLS] [SEP]
  std::vector<int32_t> ids{101, 1, 2, 3, 4, 5, 102};
  const SpecialFrame f = special_frame(ids, empty);
  EXPECT_EQ(f.head, 1u);
  EXPECT_EQ(f.tail, 1u);
  auto right = ids;
  std::vector<uint32_t> offs{0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5};
  truncate_tokens(right, &offs, 4, f, false);
  EXPECT_EQ(right, (std::vector<int32_t>{101, 1, 2, 102}));
  EXPECT_EQ(offs, (std::vector<uint32_t>{0, 0, 0, 1, 1, 2, 5, 5}));
  auto left = ids;
  truncate_tokens(left, nullptr, 4, f, true);
  EXPECT_EQ(left, (std::vector<int32_t>{101, 4, 5, 102}));
  // No specials (GPT-2): plain cuts.
  std::vector<int32_t> plain{1, 2, 3, 4};
  truncate_tokens(plain, nullptr, 2, special_frame(plain, {}), true);
  EXPECT_EQ(plain, (std::vector<int32_t>{3, 4}));
}

TEST(TokenWindow, WindowsOverlapAndTheLastEndsWithTheText) {
  // 10 text ids between [CLS] and [SEP]; 6 ids per window = 4 text ids, overlap 1: step 3.
  const auto w = token_windows(12, {1, 1}, 6, 1);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].begin, 1u);
  EXPECT_EQ(w[0].end, 5u);
  EXPECT_EQ(w[1].begin, 4u);
  EXPECT_EQ(w[1].end, 8u);
  EXPECT_EQ(w[2].begin, 7u);
  EXPECT_EQ(w[2].end, 11u);
  EXPECT_EQ(token_windows(2, {1, 1}, 6, 1).size(), 1u);  // empty text: one empty window
  EXPECT_THROW(token_windows(12, {1, 1}, 3, 1), std::invalid_argument);
}

}  // namespace
}  // namespace qkv::pipeline
