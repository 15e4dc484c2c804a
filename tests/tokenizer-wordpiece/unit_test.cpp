// Fast checks of the WordPiece core: normalizer rules (as HF's BertNormalizer documents them),
// special-token policies, truncation and offsets, decoding, long words, invalid UTF-8 (against
// the `.replaced` goldens), and one instance shared by many threads (against the goldens).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <thread>

#include "corpus_data.hpp"
#include "wordpiece_tokenizer.hpp"

namespace qkv::wordpiece {
namespace {

using testing::read_corpus;
using testing::read_golden;
using testing::source_path;

const std::string kVocab = "data/vocab/bert-base-uncased/vocab.txt";
const std::string kJson = "data/vocab/bert-base-uncased/tokenizer.json";

const WordPieceTokenizer& bert() {
  static const WordPieceTokenizer tok(load_vocab_txt(source_path(kVocab)));
  return tok;
}

WordPieceTokenizer bert_with(const SpecOverrides& o) {
  ModelSpec spec = load_vocab_txt(source_path(kVocab));
  apply_overrides(spec, o);
  return WordPieceTokenizer(std::move(spec));
}

// Tokens (as vocabulary strings) of `text`, no [CLS]/[SEP].
std::vector<std::string> tokens(const WordPieceTokenizer& tok, std::string_view text,
                                EncodeParams p = {}) {
  Encoding enc;
  tok.encode(text, p, enc);
  std::vector<std::string> out;
  for (int32_t id : enc.ids) out.push_back(tok.spec().vocab.at(static_cast<size_t>(id)));
  return out;
}
using V = std::vector<std::string>;

TEST(WordPieceNormalizer, CleanTextDropsControlsAndReplacementChar) {
  // NUL, U+FFFD, ZERO WIDTH SPACE (Cf) and ESC (Cc) vanish without splitting the word.
  EXPECT_EQ(tokens(bert(), std::string("he\0llo", 6)), V{"hello"});
  EXPECT_EQ(tokens(bert(), "he\xEF\xBF\xBDllo"), V{"hello"});
  EXPECT_EQ(tokens(bert(), "he\xE2\x80\x8Bllo"), V{"hello"});
  EXPECT_EQ(tokens(bert(), "he\x1Bllo"), V{"hello"});
  SpecOverrides keep;
  keep.clean_text = false;
  EXPECT_EQ(tokens(bert_with(keep), "he\x1Bllo"), V{"[UNK]"});
}

TEST(WordPieceNormalizer, WhitespaceSplits) {
  // TAB, LF, NBSP, IDEOGRAPHIC SPACE, LINE SEPARATOR are all White_Space.
  EXPECT_EQ(tokens(bert(),
                   "a\tb\nc\xC2\xA0"
                   "d\xE3\x80\x80"
                   "e\xE2\x80\xA8"
                   "f"),
            (V{"a", "b", "c", "d", "e", "f"}));
}

TEST(WordPieceNormalizer, ChineseCharsStandAlone) {
  EXPECT_TRUE(is_chinese_char(0x4E2D));
  EXPECT_TRUE(is_chinese_char(0x2B81F));
  // HF's last block starts at U+2B920 (Google's BERT: U+2B820); we follow HF.
  EXPECT_FALSE(is_chinese_char(0x2B820));
  EXPECT_FALSE(is_chinese_char(0x2B91F));
  EXPECT_TRUE(is_chinese_char(0x2B920));
  EXPECT_TRUE(is_chinese_char(0x2CEAF));
  EXPECT_EQ(tokens(bert(),
                   "ab\xE4\xB8\xAD\xE6\x96\x87"
                   "cd"),
            (V{"ab", "中", "文", "cd"}));
  SpecOverrides off;
  off.handle_chinese_chars = false;
  // Without it the ideograph joins the word: "ab" "##中" "##cd" (all in the vocabulary).
  EXPECT_EQ(tokens(bert_with(off),
                   "ab\xE4\xB8\xAD"
                   "cd"),
            (V{"ab", "##中", "##cd"}));
}

TEST(WordPieceNormalizer, LowercaseAndStripAccents) {
  EXPECT_EQ(tokens(bert(), "H\xC3\xA9LLO"), V{"hello"});  // HéLLO
  // strip_accents follows lowercase when unset; explicitly off keeps é.
  SpecOverrides keep;
  keep.strip_accents = false;
  EXPECT_NE(tokens(bert_with(keep), "caf\xC3\xA9"), V{"cafe"});
  // Uppercase kept when lowercase is off (and accents then stay too).
  SpecOverrides cased;
  cased.lowercase = false;
  EXPECT_EQ(tokens(bert_with(cased), "Hello"), (V{"[UNK]"}));
}

TEST(WordPieceNormalizer, DottedCapitalIFollowsRustLowercase) {
  CharResult r;
  NormalizerFlags lower_only;
  lower_only.strip_accents = false;
  normalize_char(0x130, lower_only, r);  // İ -> i + COMBINING DOT ABOVE (full mapping)
  ASSERT_EQ(r.nchars, 2);
  EXPECT_EQ(r.chars[0], U'i');
  EXPECT_EQ(r.chars[1], char32_t(0x307));
  normalize_char(0x130, NormalizerFlags{}, r);  // NFD first, mark stripped, then lowercase
  ASSERT_EQ(r.nchars, 1);
  EXPECT_EQ(r.chars[0], U'i');
}

TEST(WordPieceNormalizer, PunctuationIsolated) {
  EXPECT_EQ(tokens(bert(), "a,b.c$d"), (V{"a", ",", "b", ".", "c", "$", "d"}));
  // U+00BF INVERTED QUESTION MARK (Po) and U+2014 EM DASH (Pd) are punctuation.
  EXPECT_EQ(tokens(bert(),
                   "a\xC2\xBF"
                   "b\xE2\x80\x94"
                   "c"),
            (V{"a", "¿", "b", "—", "c"}));
  EXPECT_TRUE(is_bert_punctuation(U'`'));
  EXPECT_FALSE(is_bert_punctuation(U'a'));
}

TEST(WordPieceNormalizer, UnicodeVersionGate) {
  // U+1DFA (Mn since Unicode 14) is unknown to HF's Unicode 8.0 categories: not stripped.
  EXPECT_FALSE(is_bert_nonspacing_mark(0x1DFA));
  EXPECT_TRUE(is_bert_nonspacing_mark(0x301));
  // U+1734: Mn in Unicode 8.0 (Mc now) is stripped, as the goldens show.
  EXPECT_TRUE(is_bert_nonspacing_mark(0x1734));
  // Private use: only the first/last code point of a range counts as "other" for HF.
  EXPECT_TRUE(is_bert_control(0xE000));
  EXPECT_TRUE(is_bert_control(0xF8FF));
  EXPECT_FALSE(is_bert_control(0xE001));
}

TEST(WordPiece, GreedyLongestMatchWithPrefix) {
  // vocab.txt has una, ##ffa, ##ble but no unaf/unaff/##ffab/##ffable: greedy picks the
  // longest piece first even when a shorter one would allow ##able.
  EXPECT_EQ(tokens(bert(), "unaffable"), (V{"una", "##ffa", "##ble"}));
  EXPECT_EQ(tokens(bert(), "playing"), (V{"playing"}));
}

TEST(WordPiece, LongWordsBecomeUnk) {
  EXPECT_EQ(tokens(bert(), std::string(101, 'a')), V{"[UNK]"});
  EXPECT_NE(tokens(bert(), std::string(100, 'a')), V{"[UNK]"});
  EXPECT_EQ(tokens(bert(), std::string(1 << 20, 'a') + " the"), (V{"[UNK]", "the"}));
}

TEST(WordPieceSpecials, DefaultMatchesBertSpecials) {
  EncodeParams p;
  p.add_special = true;
  EXPECT_EQ(tokens(bert(), "un[MASK]able", p), (V{"[CLS]", "un", "[MASK]", "able", "[SEP]"}));
}

TEST(WordPieceSpecials, Policies) {
  EncodeParams none;
  none.specials = SpecialPolicy::kNone;
  EXPECT_EQ(tokens(bert(), "[MASK]", none), (V{"[", "mask", "]"}));
  EncodeParams list;
  list.specials = SpecialPolicy::kList;
  const std::string_view names[] = {"[SEP]"};
  list.special_names = names;
  EXPECT_EQ(tokens(bert(), "[SEP][MASK]", list), (V{"[SEP]", "[", "mask", "]"}));
  const std::string_view unknown[] = {"<|endoftext|>"};
  list.special_names = unknown;
  EXPECT_THROW(tokens(bert(), "x", list), std::invalid_argument);
}

TEST(WordPieceTruncation, KeepsSepAndMatchesGoldenPrefix) {
  auto docs = read_corpus("mixed_edge");
  auto golden = read_golden("mixed_edge.bert-base-uncased.jsonl.gz");
  EncodeParams p;
  p.add_special = true;
  Encoding enc;
  for (uint32_t max : {1u, 2u, 3u, 8u, 64u}) {
    p.max_length = max;
    for (size_t i = 0; i < docs.size(); i += 7) {
      bert().encode(docs[i].text, p, enc);
      const auto& g = golden[i];
      std::vector<int32_t> want;
      if (g.size() <= max) {
        want = g;
      } else if (max == 1) {
        want = {g.front()};
      } else {
        want.assign(g.begin(), g.begin() + (max - 1));
        want.push_back(g.back());
      }
      EXPECT_EQ(enc.ids, want) << docs[i].id << " max_length " << max;
    }
  }
}

TEST(WordPieceOffsets, SliceTheOriginalText) {
  const std::string text = "Héllo, [MASK] unaffable 中";
  EncodeParams p;
  p.offsets = p.add_special = true;
  Encoding enc;
  bert().encode(text, p, enc);
  std::vector<std::string> spans;
  for (size_t i = 0; i < enc.ids.size(); ++i)
    spans.push_back(text.substr(enc.offsets[2 * i], enc.offsets[2 * i + 1] - enc.offsets[2 * i]));
  EXPECT_EQ(spans, (V{"", "Héllo", ",", "[MASK]", "una", "ffa", "ble", "中", ""}));
}

TEST(WordPieceOffsets, RandomTextKeepsOffsetsInBoundsAndIdsUnchanged) {
  // Random mixes of ASCII, Latin with accents, Cyrillic, CJK, marks, controls, specials and
  // invalid bytes: offsets stay inside the text and in order, and asking for offsets never
  // changes the ids.
  const char* pieces[] = {"a",
                          "Z",
                          " ",
                          "\n",
                          ".",
                          "##",
                          "[MASK]",
                          "\xC3\xA9",
                          "\xD0\x96",
                          "\xE4\xB8\xAD",
                          "\xCC\x81",
                          "\x01",
                          "\xF0\x9F\x98\x80",
                          "\xFF",
                          "\xE2\x80\x8B",
                          "ing",
                          "\xC4\xB0",
                          "\xE1\xBF\xAF"};
  std::mt19937 rng(7);
  EncodeParams plain, with;
  plain.add_special = with.add_special = with.offsets = true;
  Encoding a, b;
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    const int n = static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) text += pieces[rng() % std::size(pieces)];
    bert().encode(text, plain, a);
    bert().encode(text, with, b);
    ASSERT_EQ(a.ids, b.ids) << text;
    ASSERT_EQ(b.offsets.size(), 2 * b.ids.size());
    uint32_t last_begin = 0;
    for (size_t i = 1; i + 1 < b.ids.size(); ++i) {
      const uint32_t begin = b.offsets[2 * i], end = b.offsets[2 * i + 1];
      ASSERT_LE(begin, end) << text;
      ASSERT_LE(end, text.size()) << text;
      ASSERT_LE(last_begin, begin) << text;
      last_begin = begin;
    }
  }
}

TEST(WordPieceDecode, JoinsPiecesAsHfDecoder) {
  std::string out;
  Encoding enc;
  EncodeParams p;
  p.add_special = true;
  bert().encode("Hello, unaffable world!", p, enc);
  bert().decode(enc.ids, out);
  EXPECT_EQ(out, "hello, unaffable world!");
  out.clear();
  const int32_t bad[] = {1 << 20};
  EXPECT_THROW(bert().decode(bad, out), std::out_of_range);
}

TEST(WordPieceInvalidUtf8, ReplacedInputMatchesGolden) {
  auto lines = testing::read_invalid_lines();
  auto golden = read_golden("invalid_utf8.bert-base-uncased.replaced.jsonl.gz");
  ASSERT_EQ(lines.size(), golden.size());
  EncodeParams p;
  p.add_special = true;
  Encoding enc;
  for (size_t i = 0; i < lines.size(); ++i) {
    bert().encode(testing::whatwg_replace(lines[i]), p, enc);
    EXPECT_EQ(enc.ids, golden[i]) << "invalid_utf8.bin line " << i;
    bert().encode(lines[i], p, enc);  // raw invalid bytes must not crash either
  }
}

TEST(WordPieceLoad, TokenizerJsonAgreesWithVocabTxt) {
  WordPieceTokenizer json(load_tokenizer_json(source_path(kJson)));
  EXPECT_EQ(json.vocab_size(), bert().vocab_size());
  EXPECT_EQ(json.spec().cls_id, 101);
  EXPECT_EQ(json.spec().sep_id, 102);
  EXPECT_EQ(json.token_to_id("[MASK]"), 103);
  EXPECT_EQ(json.spec().added.size(), 5u);
}

TEST(WordPieceLoad, HubStyleTokenizerJson) {
  // The hub's bert-base-uncased file differs from ours in two ways: strip_accents is null
  // (follow lowercase) and the post-processor is a TemplateProcessing. Same ids expected.
  std::ifstream in(source_path(kJson));
  auto doc = nlohmann::json::parse(in);
  doc["normalizer"]["strip_accents"] = nullptr;
  doc["post_processor"] = nlohmann::json::parse(R"({"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
               {"Sequence": {"id": "A", "type_id": 0}},
               {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
    "pair": [],
    "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [101], "tokens": ["[CLS]"]},
                       "[SEP]": {"id": "[SEP]", "ids": [102], "tokens": ["[SEP]"]}}})");
  const std::string path = ::testing::TempDir() + "wordpiece_hub_tokenizer.json";
  std::ofstream(path) << doc.dump();
  WordPieceTokenizer tok(load_tokenizer_json(path));
  std::remove(path.c_str());
  EXPECT_FALSE(tok.spec().normalizer.strip_accents.has_value());
  auto docs = read_corpus("mixed_edge");
  auto golden = read_golden("mixed_edge.bert-base-uncased.jsonl.gz");
  EncodeParams p;
  p.add_special = true;
  Encoding enc;
  int bad = 0;
  for (size_t i = 0; i < docs.size(); ++i) {
    tok.encode(docs[i].text, p, enc);
    bad += enc.ids != golden[i];
  }
  EXPECT_EQ(bad, 0);
}

TEST(WordPieceLoad, ErrorsNameTheFile) {
  try {
    load_vocab_txt("/nonexistent/vocab.txt");
    FAIL() << "loaded a missing file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/vocab.txt"), std::string::npos);
  }
  try {
    load_tokenizer_json(source_path("data/vocab/gpt2/tokenizer.json"));
    FAIL() << "loaded a BPE tokenizer.json";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("WordPiece"), std::string::npos) << e.what();
  }
}

TEST(WordPieceThreads, OneInstanceManyThreadsSameIds) {
  auto docs = read_corpus("mixed_edge");
  auto golden = read_golden("mixed_edge.bert-base-uncased.jsonl.gz");
  const WordPieceTokenizer& tok = bert();
  std::vector<int> bad(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      EncodeParams p;
      p.add_special = true;
      Encoding enc;
      for (size_t k = 0; k < docs.size(); ++k) {
        size_t i = (k + static_cast<size_t>(t) * 37) % docs.size();  // different orders
        tok.encode(docs[i].text, p, enc);
        if (enc.ids != golden[i]) ++bad[t];
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace qkv::wordpiece
