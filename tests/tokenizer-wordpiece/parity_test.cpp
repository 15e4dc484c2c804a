// Full-corpus parity through the real plugin (loaded by the host's PluginRegistry): ids
// identical to HF tokenizers' goldens, from vocab.txt and from tokenizer.json, every document
// of every corpus file, [CLS]/[SEP] added.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <memory>

#include "corpus_data.hpp"
#include "host/plugin_instance.hpp"
#include "host/plugin_registry.hpp"
#include "host/tokenizer_handle.hpp"

namespace {

using qkv::wordpiece::testing::read_corpus;
using qkv::wordpiece::testing::read_golden;

// One registry and one instance per config for the whole suite.
const qkv::host::TokenizerHandle& plugin(const std::string& yaml) {
  static qkv::host::PluginRegistry registry = [] {
    qkv::host::PluginRegistry r;
    r.load_file(std::filesystem::path(QKV_PLUGIN_DIR) / "qkv_tokenizer-wordpiece.so");
    return r;
  }();
  static std::map<std::string, std::unique_ptr<qkv::host::TokenizerHandle>> made;
  auto& slot = made[yaml];
  if (!slot) {
    const auto& p = registry.require(QKV_KIND_TOKENIZER, "tokenizer-wordpiece");
    slot = std::make_unique<qkv::host::TokenizerHandle>(qkv::host::create_instance(
        p, YAML::Load(yaml), std::filesystem::path(QKV_SOURCE_DIR) / "data/vocab", "test.yaml"));
  }
  return *slot;
}

// Compares every document; reports the first few mismatches with their position.
void expect_corpus(const qkv::host::TokenizerHandle& tok, const std::string& name) {
  auto docs = read_corpus(name);
  auto golden = read_golden(name + ".bert-base-uncased.jsonl.gz");
  ASSERT_EQ(docs.size(), golden.size()) << name;
  const auto opts = qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL);
  std::vector<int32_t> ids;
  int bad = 0;
  for (size_t i = 0; i < docs.size(); ++i) {
    ids.clear();
    tok.encode(docs[i].text, opts, ids);
    if (ids != golden[i] && ++bad <= 3) {
      size_t k = 0;
      while (k < ids.size() && k < golden[i].size() && ids[k] == golden[i][k]) ++k;
      ADD_FAILURE() << name << " doc " << i << " (" << docs[i].id << "): first difference at id "
                    << k << " of " << golden[i].size() << " (got " << (k < ids.size() ? ids[k] : -1)
                    << ", want " << (k < golden[i].size() ? golden[i][k] : -1) << ")";
    }
  }
  EXPECT_EQ(bad, 0) << name << ": " << bad << " of " << docs.size() << " documents differ";
}

class WordPieceParity : public ::testing::TestWithParam<std::string> {};

TEST_P(WordPieceParity, VocabTxt) {
  expect_corpus(plugin("{vocab: bert-base-uncased/vocab.txt}"), GetParam());
}
TEST_P(WordPieceParity, TokenizerJson) {
  expect_corpus(plugin("{tokenizer_json: bert-base-uncased/tokenizer.json}"), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Corpus, WordPieceParity,
                         ::testing::Values("en", "code", "ru", "zh", "ja", "mixed_edge"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
