// The real qkv_tokenizer-sentencepiece.so, loaded by the host's PluginRegistry and configured
// through YAML: ids against the SentencePiece goldens through the C ABI, one instance on many
// threads, options, config errors.
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "corpus_data.hpp"
#include "fixtures.hpp"
#include "host/plugin_error.hpp"
#include "host/plugin_instance.hpp"
#include "host/plugin_registry.hpp"
#include "host/tokenizer_handle.hpp"

namespace {

using namespace qkv::sentencepiece::testing;
using qkv::wordpiece::testing::read_corpus;

class SentencePiecePlugin : public ::testing::Test {
 protected:
  void SetUp() override {
    auto file = std::filesystem::path(QKV_PLUGIN_DIR) / "qkv_tokenizer-sentencepiece.so";
    ASSERT_TRUE(registry_.load_file(file)) << registry_.errors().back();
  }
  qkv::host::TokenizerHandle make(const std::string& yaml) {
    const auto& plugin = registry_.require(QKV_KIND_TOKENIZER, "tokenizer-sentencepiece");
    return qkv::host::TokenizerHandle(qkv::host::create_instance(
        plugin, YAML::Load(yaml),
        std::filesystem::path(QKV_SOURCE_DIR) / "data/vocab/sentencepiece", "test.yaml"));
  }
  static std::vector<std::vector<int32_t>> golden(const std::string& corpus,
                                                  const std::string& model) {
    std::vector<std::vector<int32_t>> out;
    for (const auto& line : golden_lines(corpus + ".sp-" + model + ".jsonl.gz"))
      out.push_back(parse_ids(line));
    return out;
  }
  qkv::host::PluginRegistry registry_;
};

TEST_F(SentencePiecePlugin, EveryModelMatchesSentencePieceThroughTheAbi) {
  const auto docs = read_corpus("mixed_edge");
  for (const char* model : kModels) {
    auto tok = make(std::string("{model: ") + model + "/tokenizer.model}");
    const auto want = golden("mixed_edge", model);
    // add_special on a .model adds nothing, as SentencePieceProcessor's defaults.
    auto opts = qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL);
    int bad = 0;
    for (size_t i = 0; i < docs.size(); ++i)
      if (tok.encode(docs[i].text, opts) != want[i]) ++bad;
    EXPECT_EQ(bad, 0) << model;
  }
}

TEST_F(SentencePiecePlugin, OneInstanceManyThreads) {
  auto docs = read_corpus("mixed_edge");
  auto zh = read_corpus("zh");
  auto want = golden("mixed_edge", "bpe-6k-llama");
  auto want_zh = golden("zh", "bpe-6k-llama");
  docs.insert(docs.end(), zh.begin(), zh.end());
  want.insert(want.end(), want_zh.begin(), want_zh.end());
  auto tok = make("{model: bpe-6k-llama/tokenizer.model}");
  std::vector<int> bad(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      auto opts = qkv::host::encode_options(QKV_ENCODE_OFFSETS);
      std::vector<int32_t> ids;
      std::vector<uint32_t> offsets;
      for (size_t k = 0; k < docs.size(); ++k) {
        const size_t i = (k * 7 + static_cast<size_t>(t) * 61) % docs.size();  // other orders
        ids.clear();
        offsets.clear();
        tok.encode(docs[i].text, opts, ids, &offsets);
        if (ids != want[i] || offsets.size() != 2 * ids.size()) ++bad[t];
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad, std::vector<int>(4, 0));
}

// Offsets are byte ranges of the input, in order, each inside the text.
TEST_F(SentencePiecePlugin, OffsetsAreOrderedRangesOfTheInput) {
  auto tok = make("{model: unigram-8k/tokenizer.model}");
  std::vector<int32_t> ids;
  std::vector<uint32_t> offsets;
  for (const auto& doc : read_corpus("mixed_edge")) {
    ids.clear();
    offsets.clear();
    tok.encode(doc.text, qkv::host::encode_options(QKV_ENCODE_OFFSETS), ids, &offsets);
    ASSERT_EQ(offsets.size(), 2 * ids.size()) << doc.id;
    uint32_t last_begin = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      EXPECT_LE(offsets[2 * i], offsets[2 * i + 1]) << doc.id;
      EXPECT_LE(offsets[2 * i + 1], doc.text.size()) << doc.id;
      EXPECT_GE(offsets[2 * i], last_begin) << doc.id;
      last_begin = offsets[2 * i];
    }
  }
  // Plain ASCII under nmt_nfkc: "▁Hello" covers "Hello" (the dummy prefix has no source byte).
  tok.encode("Hello  world", qkv::host::encode_options(QKV_ENCODE_OFFSETS), ids, &offsets);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(offsets.front(), 0u);
  EXPECT_EQ(offsets.back(), 12u);
}

TEST_F(SentencePiecePlugin, TokenizerJsonAddsItsTemplateAndTruncates) {
  auto tok = make("{tokenizer_json: bpe-6k-llama/tokenizer.json}");
  const int32_t bos = tok.token_to_id("<s>");
  ASSERT_GE(bos, 0);
  const auto plain = make("{model: bpe-6k-llama/tokenizer.model}").encode("Hello world");
  auto with = tok.encode("Hello world", qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL));
  ASSERT_EQ(with.size(), plain.size() + 1);
  EXPECT_EQ(with.front(), bos);
  EXPECT_EQ(std::vector<int32_t>(with.begin() + 1, with.end()), plain);
  auto cut = tok.encode("one two three four five six",
                        qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL, QKV_SPECIAL_DEFAULT, 3));
  ASSERT_EQ(cut.size(), 3u);
  EXPECT_EQ(cut.front(), bos);
  auto t5 = make("{tokenizer_json: unigram-8k/tokenizer.json}");
  auto eos = t5.encode("Hello", qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL));
  EXPECT_EQ(eos.back(), t5.token_to_id("</s>"));
  auto eos_cut =
      t5.encode("one two three four five six",
                qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL, QKV_SPECIAL_DEFAULT, 2));
  ASSERT_EQ(eos_cut.size(), 2u);
  EXPECT_EQ(eos_cut.back(), t5.token_to_id("</s>"));
  // Cut with offsets: the text token keeps its own range, </s> sits at the end of the text.
  const std::string text = "one two three four five six";
  std::vector<int32_t> ids;
  std::vector<uint32_t> offsets;
  t5.encode(text,
            qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL | QKV_ENCODE_OFFSETS,
                                      QKV_SPECIAL_DEFAULT, 2),
            ids, &offsets);
  EXPECT_EQ(ids, eos_cut);
  ASSERT_EQ(offsets.size(), 4u);
  EXPECT_EQ(offsets[0], 0u);
  EXPECT_EQ(offsets[1], 3u);  // "one"
  EXPECT_EQ(offsets[2], text.size());
  EXPECT_EQ(offsets[3], text.size());
}

TEST_F(SentencePiecePlugin, UserSymbolsMatchControlSymbolsNever) {
  auto tok = make("{model: unigram-2k-bytes/tokenizer.model}");
  const int32_t mask = tok.token_to_id("[MASK]");
  ASSERT_GE(mask, 0);
  auto ids = tok.encode("a[MASK]b");
  EXPECT_NE(std::find(ids.begin(), ids.end(), mask), ids.end());
  const int32_t bos = tok.info().bos_id;
  ASSERT_GE(bos, 0);
  ids = tok.encode("<s>hello</s>");
  EXPECT_EQ(std::find(ids.begin(), ids.end(), bos), ids.end());
  EXPECT_EQ(tok.decode(tok.encode("Hello  world")), "Hello world");  // whitespace folded
}

TEST_F(SentencePiecePlugin, InfoNamesTheControlPieces) {
  auto tok = make("{model: unigram-8k/tokenizer.model}");
  EXPECT_EQ(tok.info().vocab_size, 8000u);
  EXPECT_EQ(tok.info().unk_id, tok.token_to_id("<unk>"));
  EXPECT_EQ(tok.info().bos_id, tok.token_to_id("<s>"));
  EXPECT_EQ(tok.info().eos_id, tok.token_to_id("</s>"));
  EXPECT_GE(tok.info().bos_id, 0);
  EXPECT_EQ(tok.info().pad_id, -1);  // the trainer's default: no <pad>
  EXPECT_EQ(tok.token_to_id("no-such-piece"), -1);
}

TEST_F(SentencePiecePlugin, ConfigErrorsAreClear) {
  auto code_of = [&](const std::string& yaml, std::string* message = nullptr) {
    try {
      make(yaml);
    } catch (const qkv::PluginError& e) {
      if (message) *message = e.what();
      return e.code();
    }
    return QKV_OK;
  };
  EXPECT_EQ(
      code_of("{model: unigram-8k/tokenizer.model, tokenizer_json: unigram-8k/tokenizer.json}"),
      QKV_ERR_CONFIG);
  EXPECT_EQ(code_of("{}"), QKV_ERR_CONFIG);
  std::string msg;
  EXPECT_EQ(code_of("{model: missing/tokenizer.model}", &msg), QKV_ERR_IO);
  EXPECT_NE(msg.find("missing/tokenizer.model"), std::string::npos) << msg;
  EXPECT_EQ(code_of("{model: README.md}", &msg), QKV_ERR_CONFIG);  // not a ModelProto
  EXPECT_NE(msg.find("README.md"), std::string::npos) << msg;
  EXPECT_EQ(code_of("{tokenizer_json: hf_disagreements.json}", &msg), QKV_ERR_CONFIG);
  EXPECT_NE(msg.find("tokenizer.json layout"), std::string::npos) << msg;

  auto tok = make("{model: unigram-8k/tokenizer.model}");
  try {
    tok.encode("x", qkv::host::encode_options(0, QKV_SPECIAL_ALL));
    FAIL() << "accepted special_tokens: all";
  } catch (const qkv::PluginError& e) {
    EXPECT_EQ(e.code(), QKV_ERR_UNSUPPORTED);
  }
  const int32_t bad[] = {8000};
  try {
    tok.decode(bad);
    FAIL() << "decoded an unknown id";
  } catch (const qkv::PluginError& e) {
    EXPECT_EQ(e.code(), QKV_ERR_INVALID_INPUT);
  }
}

// HF's numberings over a .model (tests/model/hf_fixtures' tiny XLM-R and Marian tokenizers; their
// ids against the HF rules are checked from text in tests/model/text_pipeline_test.cpp).
TEST_F(SentencePiecePlugin, HfIdMapsInfoDecodeAndErrors) {
  const std::string fx = std::string(QKV_SOURCE_DIR) + "/tests/model/hf_fixtures/";
  auto xlmr = make("{model: " + fx + "xlmr-st/sentencepiece.bpe.model, id_map: fairseq}");
  const auto xi = xlmr.info();
  EXPECT_EQ(xi.vocab_size, 120u);  // 118 pieces + <pad> + <mask>
  EXPECT_EQ(xi.bos_id, 0);
  EXPECT_EQ(xi.pad_id, 1);
  EXPECT_EQ(xi.eos_id, 2);
  EXPECT_EQ(xi.unk_id, 3);
  EXPECT_EQ(xi.mask_id, 119);
  EXPECT_EQ(xlmr.token_to_id("<mask>"), 119);
  auto ids = xlmr.encode("the cat \xce\xa9", qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL));
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), 0);
  EXPECT_EQ(ids.back(), 2);
  EXPECT_EQ(ids[ids.size() - 2], 3);  // the unknown U+03A9
  EXPECT_EQ(xlmr.decode(xlmr.encode("the cat sat")), "the cat sat");
  const int32_t specials[] = {0, 1, 119, 2};
  EXPECT_EQ(xlmr.decode(specials), "");

  auto marian = make("{model: " + fx + "marian-tiny/source.spm, vocab_json: " + fx +
                     "marian-tiny/vocab.json}");
  const auto mi = marian.info();
  EXPECT_EQ(mi.vocab_size, 66u);
  EXPECT_EQ(mi.eos_id, 0);
  EXPECT_EQ(mi.pad_id, 1);
  EXPECT_EQ(mi.unk_id, 2);  // from vocab.json, not the .model's 0
  ids = marian.encode("the dog", qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL));
  EXPECT_EQ(ids.back(), 0);  // </s> appended, nothing in front
  EXPECT_NE(ids.front(), 0);
  const int32_t omega = marian.token_to_id("\xce\xa9");
  EXPECT_EQ(omega, 65);
  EXPECT_EQ(marian.decode(marian.encode("short lines of text")), "short lines of text");
  // the two pieces the fixture left out of vocab.json are <unk>, decoded as SentencePiece does
  EXPECT_EQ(marian.decode(marian.encode("the dog sat")), "the \xe2\x81\x87  \xe2\x81\x87  sat");
  const int32_t vocab_only[] = {omega};  // a vocab.json piece source.spm lacks: its text
  EXPECT_EQ(marian.decode(vocab_only), "\xce\xa9");

  auto message_of = [&](const std::string& yaml) -> std::string {
    try {
      make(yaml);
    } catch (const qkv::PluginError& e) {
      EXPECT_EQ(e.code(), QKV_ERR_CONFIG) << e.what();
      return e.what();
    }
    return "built";
  };
  auto expect_message = [&](const std::string& yaml, const std::string& needle) {
    const std::string m = message_of(yaml);
    EXPECT_NE(m.find(needle), std::string::npos) << "message: " << m << "\nwanted: " << needle;
  };
  expect_message("{model: unigram-8k/tokenizer.model, id_map: bert}",
                 "id_map: expected sentencepiece or fairseq, got 'bert'");
  expect_message("{tokenizer_json: unigram-8k/tokenizer.json, id_map: fairseq}", "needs 'model'");
  expect_message("{model: unigram-8k/tokenizer.model, id_map: fairseq, vocab_json: " + fx +
                     "marian-tiny/vocab.json}",
                 "two numberings");
  const auto dir =
      std::filesystem::temp_directory_path() / ("qkv-sp-vocab-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "no-unk.json") << R"({"</s>": 0, "a": 1})";
  std::ofstream(dir / "gap.json") << R"({"</s>": 0, "<unk>": 5})";
  const std::string model = "{model: unigram-8k/tokenizer.model, vocab_json: ";
  expect_message(model + (dir / "no-unk.json").string() + "}", "no-unk.json': no '<unk>' entry");
  expect_message(model + (dir / "gap.json").string() + "}", "key '<unk>': id 5");
  std::filesystem::remove_all(dir);
}

// Multilingual Marian: the leading >>xx<< is one token with its vocab.json id (an unknown code
// is <unk>), every >>..<< match is cut out of the segmented text; the reference is
// make_hf_fixtures.py's MarianTokenizer rules (language_code_re) on python3-sentencepiece.
TEST_F(SentencePiecePlugin, MarianLanguageCodesAreMarianTokenizers) {
  const std::string fx = std::string(QKV_SOURCE_DIR) + "/tests/model/hf_fixtures/";
  std::ifstream in(fx + "marian-codes/codes_expected.json");
  const auto expected = nlohmann::json::parse(in);
  auto tok = make("{model: " + fx + "marian-tiny/source.spm, vocab_json: " + fx +
                  "marian-codes/vocab.json}");
  ASSERT_EQ(tok.token_to_id(">>fr<<"), 66);
  const auto opts = qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL | QKV_ENCODE_OFFSETS);
  size_t cases = 0;
  for (const auto& c : expected.at("cases")) {
    const auto text = c.at("text").get<std::string>();
    std::vector<int32_t> ids;
    std::vector<uint32_t> offsets;
    tok.encode(text, opts, ids, &offsets);
    EXPECT_EQ(ids, c.at("ids").get<std::vector<int32_t>>()) << text;
    ASSERT_EQ(offsets.size(), 2 * ids.size()) << text;
    for (size_t i = 0; i + 1 < ids.size(); ++i) {  // every token's bytes lie in the text
      EXPECT_LE(offsets[2 * i], offsets[2 * i + 1]) << text;
      EXPECT_LE(offsets[2 * i + 1], text.size()) << text;
    }
    ++cases;
  }
  EXPECT_EQ(cases, 9u);
  // the code's offsets are its bytes; a piece after a removed code does not cover it
  std::vector<int32_t> ids;
  std::vector<uint32_t> off;
  tok.encode(">>fr<< the dog", opts, ids, &off);
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[0], 66);
  EXPECT_EQ(off[0], 0u);
  EXPECT_EQ(off[1], 6u);
  EXPECT_EQ(off[2], 7u);  // "the"
  ids.clear(), off.clear();
  tok.encode("dog>>fr<<", opts, ids, &off);
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(off[2 * (ids.size() - 2) + 1], 3u);  // the last piece of "dog" ends before the code
  // decoding a code gives its text, as SentencePiece's decode_pieces of a piece it lacks
  const int32_t fr[] = {66};
  EXPECT_EQ(tok.decode(fr), ">>fr<<");
}

}  // namespace
