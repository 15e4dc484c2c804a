// Full-corpus parity: ids identical to HF tokenizers' goldens, from vocab.txt and from
// tokenizer.json, every document of every corpus file, [CLS]/[SEP] added.
#include <gtest/gtest.h>

#include "corpus_data.hpp"
#include "wordpiece_tokenizer.hpp"

namespace qkv::wordpiece {
namespace {

using testing::read_corpus;
using testing::read_golden;
using testing::source_path;

const WordPieceTokenizer& from_vocab() {
  static const WordPieceTokenizer tok(
      load_vocab_txt(source_path("data/vocab/bert-base-uncased/vocab.txt")));
  return tok;
}
const WordPieceTokenizer& from_json() {
  static const WordPieceTokenizer tok(
      load_tokenizer_json(source_path("data/vocab/bert-base-uncased/tokenizer.json")));
  return tok;
}

// Compares every document; reports the first few mismatches with their ids.
void expect_corpus(const WordPieceTokenizer& tok, const std::string& name) {
  auto docs = read_corpus(name);
  auto golden = read_golden(name + ".bert-base-uncased.jsonl.gz");
  ASSERT_EQ(docs.size(), golden.size()) << name;
  EncodeParams p;
  p.add_special = true;
  Encoding enc;
  int bad = 0;
  for (size_t i = 0; i < docs.size(); ++i) {
    tok.encode(docs[i].text, p, enc);
    if (enc.ids != golden[i] && ++bad <= 3) {
      size_t k = 0;
      while (k < enc.ids.size() && k < golden[i].size() && enc.ids[k] == golden[i][k]) ++k;
      ADD_FAILURE() << name << " doc " << i << " (" << docs[i].id << "): first difference at id "
                    << k << " of " << golden[i].size() << " (got "
                    << (k < enc.ids.size() ? enc.ids[k] : -1) << ", want "
                    << (k < golden[i].size() ? golden[i][k] : -1) << ")";
    }
  }
  EXPECT_EQ(bad, 0) << name << ": " << bad << " of " << docs.size() << " documents differ";
}

class WordPieceParity : public ::testing::TestWithParam<std::string> {};

TEST_P(WordPieceParity, VocabTxt) { expect_corpus(from_vocab(), GetParam()); }
TEST_P(WordPieceParity, TokenizerJson) { expect_corpus(from_json(), GetParam()); }

INSTANTIATE_TEST_SUITE_P(Corpus, WordPieceParity,
                         ::testing::Values("en", "code", "ru", "zh", "ja", "mixed_edge"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace qkv::wordpiece
