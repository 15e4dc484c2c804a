// The real qkv_tokenizer-wordpiece.so, loaded by the host's PluginRegistry and configured
// through YAML: ids against the goldens, options through the C ABI, config errors.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <thread>

#include "corpus_data.hpp"
#include "host/plugin_error.hpp"
#include "host/plugin_instance.hpp"
#include "host/plugin_registry.hpp"
#include "host/tokenizer_handle.hpp"

namespace {

using qkv::wordpiece::testing::read_corpus;
using qkv::wordpiece::testing::read_golden;

class WordPiecePlugin : public ::testing::Test {
 protected:
  void SetUp() override {
    auto file = std::filesystem::path(QKV_PLUGIN_DIR) / "qkv_tokenizer-wordpiece.so";
    ASSERT_TRUE(registry_.load_file(file)) << registry_.errors().back();
  }
  qkv::host::TokenizerHandle make(const std::string& yaml) {
    const auto& plugin = registry_.require(QKV_KIND_TOKENIZER, "tokenizer-wordpiece");
    return qkv::host::TokenizerHandle(qkv::host::create_instance(
        plugin, YAML::Load(yaml), std::filesystem::path(QKV_SOURCE_DIR) / "data/vocab",
        "test.yaml"));
  }
  // Instances made from each config, in turn, against the mixed_edge goldens ([CLS] ... [SEP]).
  void expect_goldens(std::initializer_list<const char*> yamls) {
    auto docs = read_corpus("mixed_edge");
    auto golden = read_golden("mixed_edge.bert-base-uncased.jsonl.gz");
    for (const char* yaml : yamls) {
      auto tok = make(yaml);
      auto opts = qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL);
      int bad = 0;
      for (size_t i = 0; i < docs.size(); ++i)
        if (tok.encode(docs[i].text, opts) != golden[i]) ++bad;
      EXPECT_EQ(bad, 0) << yaml;
    }
  }
  qkv::host::PluginRegistry registry_;
};

TEST_F(WordPiecePlugin, BothFilesMatchGoldens) {
  expect_goldens({"{vocab: bert-base-uncased/vocab.txt}",
                  "{tokenizer_json: bert-base-uncased/tokenizer.json}"});
}

// With QKV_CACHE_DIR set (as qkvd sets it), the plugin saves one image in its own folder
// (tokenizer-wordpiece/, beside tokenizer-bpe/), shared by vocab.txt and tokenizer.json (same
// tables), and the instances read from it give the goldens.
TEST_F(WordPiecePlugin, VocabularyImageInQkvCacheDir) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("qkv-wp-plugin-cache-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  ASSERT_EQ(setenv("QKV_CACHE_DIR", dir.c_str(), 1), 0);
  expect_goldens({"{vocab: bert-base-uncased/vocab.txt}",
                  "{tokenizer_json: bert-base-uncased/tokenizer.json}",
                  "{vocab: bert-base-uncased/vocab.txt}"});
  unsetenv("QKV_CACHE_DIR");
  std::vector<std::string> images;
  for (const auto& e : std::filesystem::directory_iterator(dir / "tokenizer-wordpiece"))
    images.push_back(e.path().filename().string());
  std::filesystem::remove_all(dir);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].rfind("wordpiece-", 0), 0u) << images[0];
}

TEST_F(WordPiecePlugin, OneInstanceManyThreads) {
  auto docs = read_corpus("mixed_edge");
  auto golden = read_golden("mixed_edge.bert-base-uncased.jsonl.gz");
  auto tok = make("{tokenizer_json: bert-base-uncased/tokenizer.json}");
  std::vector<int> bad(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      auto opts = qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL | QKV_ENCODE_OFFSETS);
      std::vector<int32_t> ids;
      std::vector<uint32_t> offsets;
      for (size_t k = 0; k < docs.size(); ++k) {
        size_t i = (k * 3 + static_cast<size_t>(t) * 61) % docs.size();  // all, in other orders
        ids.clear();
        offsets.clear();
        tok.encode(docs[i].text, opts, ids, &offsets);
        if (ids != golden[i] || offsets.size() != 2 * ids.size()) ++bad[t];
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad, std::vector<int>(4, 0));
}

TEST_F(WordPiecePlugin, InfoAndTokenIds) {
  auto tok = make("{vocab: bert-base-uncased/vocab.txt}");
  EXPECT_EQ(tok.info().vocab_size, 30522u);
  EXPECT_EQ(tok.info().cls_id, 101);
  EXPECT_EQ(tok.info().sep_id, 102);
  EXPECT_EQ(tok.info().unk_id, 100);
  EXPECT_EQ(tok.info().pad_id, 0);
  EXPECT_EQ(tok.info().mask_id, 103);
  EXPECT_EQ(tok.token_to_id("the"), 1996);
  EXPECT_EQ(tok.token_to_id("no-such-token"), -1);
}

TEST_F(WordPiecePlugin, OptionsCrossTheAbi) {
  auto tok = make("{vocab: bert-base-uncased/vocab.txt}");
  EXPECT_EQ(tok.encode("un[MASK]able", qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL)),
            (std::vector<int32_t>{101, 4895, 103, 2583, 102}));  // ids = vocab.txt line numbers
  auto none = tok.encode("[MASK]", qkv::host::encode_options(0, QKV_SPECIAL_NONE));
  EXPECT_EQ(none.size(), 3u);  // [ mask ]
  auto cut = tok.encode("one two three four",
                        qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL, QKV_SPECIAL_DEFAULT, 4));
  EXPECT_EQ(cut, (std::vector<int32_t>{101, 2028, 2048, 102}));
  std::vector<int32_t> ids;
  std::vector<uint32_t> offsets;
  tok.encode("Hi there", qkv::host::encode_options(), ids, &offsets);
  EXPECT_EQ(offsets, (std::vector<uint32_t>{0, 2, 3, 8}));
  EXPECT_EQ(tok.decode(ids), "hi there");
}

TEST_F(WordPiecePlugin, ConfigOverridesAndErrors) {
  auto cased = make("{vocab: bert-base-uncased/vocab.txt, lowercase: false}");
  EXPECT_EQ(cased.encode("The"), (std::vector<int32_t>{100}));  // no "The" in an uncased vocab
  try {
    make("{vocab: bert-base-uncased/vocab.txt, tokenizer_json: bert-base-uncased/tokenizer.json}");
    FAIL() << "accepted two sources";
  } catch (const qkv::PluginError& e) {
    EXPECT_EQ(e.code(), QKV_ERR_CONFIG);
  }
  try {
    make("{vocab: missing/vocab.txt}");
    FAIL() << "accepted a missing file";
  } catch (const qkv::PluginError& e) {
    EXPECT_EQ(e.code(), QKV_ERR_IO);
    EXPECT_NE(std::string(e.what()).find("missing/vocab.txt"), std::string::npos) << e.what();
  }
  auto tok = make("{vocab: bert-base-uncased/vocab.txt}");
  const int32_t bad[] = {40000};
  try {
    tok.decode(bad);
    FAIL() << "decoded an unknown id";
  } catch (const qkv::PluginError& e) {
    EXPECT_EQ(e.code(), QKV_ERR_INVALID_INPUT);
  }
}

}  // namespace
