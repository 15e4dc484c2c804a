// tokenizer-bpe's post-processor (tokenizer.json post_processor): RoBERTa / BART's
// `<s> ... </s>` under add_special, checked through the plugin against HF `tokenizers`
// (tests/tokenizer-bpe/roberta/, made by make_roberta_golden.mjs).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "host/plugin_error.hpp"
#include "host/plugin_registry.hpp"
#include "loaders.hpp"
#include "post_processor.hpp"
#include "test_data.hpp"
#include "tokenizers.hpp"

namespace qkv::bpe::test {
namespace {

std::string roberta_dir() { return source_dir() + "/tests/tokenizer-bpe/roberta"; }

qkv::host::TokenizerHandle roberta_plugin(const std::string& file) {
  static qkv::host::PluginRegistry registry;
  if (registry.all().empty() && !registry.load_file(QKV_BPE_PLUGIN_FILE))
    throw std::runtime_error("plugin not loaded: " + registry.errors().at(0));
  YAML::Node n;
  n["tokenizer_json"] = file;
  qkv::host::InstanceConfig cfg;
  cfg.config = qkv::host::ConfigValue::from_yaml(n);
  cfg.config_dir = roberta_dir();
  cfg.source_file = "(test " + file + ")";
  return qkv::host::TokenizerHandle(std::make_shared<qkv::host::PluginInstance>(
      registry.require(QKV_KIND_TOKENIZER, "tokenizer-bpe"), std::move(cfg)));
}

struct Golden {
  std::string text;
  std::vector<int32_t> ids, template_ids, plain_ids;
  std::vector<uint32_t> offsets, plain_offsets;  // flattened [begin, end) pairs
};

std::vector<Golden> goldens() {
  std::ifstream in(roberta_dir() + "/golden.jsonl");
  std::vector<Golden> out;
  auto flat = [](const nlohmann::json& pairs) {
    std::vector<uint32_t> v;
    for (const auto& p : pairs) v.insert(v.end(), {p[0].get<uint32_t>(), p[1].get<uint32_t>()});
    return v;
  };
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    out.push_back({j["text"], j["ids"], j["template_ids"], j["plain_ids"], flat(j["offsets"]),
                   flat(j["plain_offsets"])});
  }
  return out;
}

TEST(BpePostProcessor, RobertaProcessingMatchesHfTokenizers) {
  const auto tok = roberta_plugin("tokenizer.json");
  const auto golden = goldens();
  ASSERT_GE(golden.size(), 10u);
  for (const auto& g : golden) {
    std::vector<int32_t> ids;
    std::vector<uint32_t> off;
    tok.encode(g.text, qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL, QKV_SPECIAL_DEFAULT), ids,
               &off);
    EXPECT_EQ(ids, g.ids) << g.text;
    // HF gives the specials (0, 0); qkv puts </s> at the end of the text (as tokenizer-
    // sentencepiece does). Every other offset, trimmed of spaces (trim_offsets), is HF's.
    ASSERT_EQ(off.size(), g.offsets.size()) << g.text;
    off[off.size() - 2] = off[off.size() - 1] = 0;
    EXPECT_EQ(off, g.offsets) << g.text;
    ids.clear();
    off.clear();
    tok.encode(g.text, qkv::host::encode_options(0, QKV_SPECIAL_DEFAULT), ids, &off);
    EXPECT_EQ(ids, g.plain_ids) << g.text;
    EXPECT_EQ(off, g.plain_offsets) << g.text;
  }
}

// HF's offsets are in characters; the golden's texts are UTF-8, qkv's offsets are bytes.
std::vector<uint32_t> char_to_byte_offsets(const std::string& text, const nlohmann::json& pairs) {
  std::vector<uint32_t> byte_of{0};  // char index -> byte index
  for (size_t b = 0; b < text.size(); ++b)
    if ((static_cast<unsigned char>(text[b]) & 0xC0) != 0x80 && b > 0) byte_of.push_back(b);
  byte_of.push_back(text.size());
  std::vector<uint32_t> v;
  for (const auto& p : pairs)
    v.insert(v.end(), {byte_of.at(p[0].get<size_t>()), byte_of.at(p[1].get<size_t>())});
  return v;
}

// roberta-base / bart-base's <mask> has lstrip: true: the whitespace before it (any Unicode
// White_Space, back to the previous special) becomes part of the special's match.
TEST(BpePostProcessor, LstripMaskMatchesHfTokenizers) {
  const auto tok = roberta_plugin("lstrip.tokenizer.json");
  std::ifstream in(roberta_dir() + "/lstrip.golden.jsonl");
  size_t n = 0, non_ascii = 0;
  for (std::string line; std::getline(in, line); ++n) {
    const auto g = nlohmann::json::parse(line);
    const std::string text = g["text"];
    non_ascii += !g["ascii"].get<bool>();
    std::vector<int32_t> ids;
    std::vector<uint32_t> off;
    tok.encode(text, qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL, QKV_SPECIAL_DEFAULT), ids,
               &off);
    EXPECT_EQ(ids, g["ids"].get<std::vector<int32_t>>()) << text;
    ASSERT_EQ(off.size(), 2 * ids.size()) << text;
    off[off.size() - 2] = off[off.size() - 1] = 0;  // </s>: see RobertaProcessingMatches...
    EXPECT_EQ(off, char_to_byte_offsets(text, g["offsets"])) << text;
    ids.clear();
    off.clear();
    tok.encode(text, qkv::host::encode_options(0, QKV_SPECIAL_DEFAULT), ids, &off);
    EXPECT_EQ(ids, g["plain_ids"].get<std::vector<int32_t>>()) << text;
    EXPECT_EQ(off, char_to_byte_offsets(text, g["plain_offsets"])) << text;
  }
  EXPECT_GE(n, 16u);
  EXPECT_GE(non_ascii, 3u);
}

// Without trim_offsets the lstrip match's offsets cover the whitespace it absorbed (HF:
// "Hello <mask>" -> <mask> at [5, 12)), and an image keeps the flag.
TEST(BpePostProcessor, LstripWithoutTrimOffsetsCoversTheWhitespace) {
  BpeSpec spec = load_tokenizer_json(roberta_dir() + "/lstrip.tokenizer.json");
  spec.wrap = {};
  const Bpe built(spec);
  const auto imaged = Bpe::from_image(built.image());
  for (const Bpe* bpe : {&built, static_cast<const Bpe*>(imaged.get())}) {
    std::vector<int32_t> ids;
    std::vector<uint32_t> off;
    bpe->encode("Hello \t<mask>", {}, 0, ids, &off);
    ASSERT_EQ(ids.size(), 4u);
    EXPECT_EQ(ids[3], bpe->special_id("<mask>"));
    EXPECT_EQ(off[6], 5u);
    EXPECT_EQ(off[7], 13u);
  }
  spec.specials.back().lstrip = false;
  std::vector<int32_t> ids;
  Bpe(spec).encode("Hello \t<mask>", {}, 0, ids, nullptr);
  EXPECT_GT(ids.size(), 4u);  // the whitespace is encoded as text
}

TEST(BpePostProcessor, TemplateProcessingMatchesHfTokenizers) {
  const auto tok = roberta_plugin("template.tokenizer.json");
  for (const auto& g : goldens()) {
    std::vector<int32_t> ids;
    tok.encode(g.text, qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL, QKV_SPECIAL_DEFAULT), ids,
               nullptr);
    EXPECT_EQ(ids, g.template_ids) << g.text;
  }
}

TEST(BpePostProcessor, SpecialsCountAgainstMaxLength) {
  const auto tok = roberta_plugin("tokenizer.json");
  const auto g = goldens().at(5);  // "The quick brown fox ..."
  ASSERT_GT(g.ids.size(), 6u);
  std::vector<int32_t> ids;
  tok.encode(g.text, qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL, QKV_SPECIAL_DEFAULT, 5), ids,
             nullptr);
  // HF truncation keeps the specials: <s> + the first 3 text ids + </s>
  EXPECT_EQ(ids, (std::vector<int32_t>{0, g.ids[1], g.ids[2], g.ids[3], 2}));
  ids.clear();
  tok.encode(g.text, qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL, QKV_SPECIAL_DEFAULT, 2), ids,
             nullptr);
  EXPECT_EQ(ids, (std::vector<int32_t>{0, 2}));
  ids.clear();
  tok.encode(g.text, qkv::host::encode_options(QKV_ENCODE_ADD_SPECIAL, QKV_SPECIAL_DEFAULT, 1), ids,
             nullptr);
  EXPECT_EQ(ids, (std::vector<int32_t>{0}));
}

TEST(BpePostProcessor, InfoNamesRobertaSpecials) {
  const auto info = roberta_plugin("tokenizer.json").info();
  EXPECT_EQ(info.bos_id, 0);
  EXPECT_EQ(info.cls_id, 0);
  EXPECT_EQ(info.pad_id, 1);
  EXPECT_EQ(info.eos_id, 2);
  EXPECT_EQ(info.sep_id, 2);
  EXPECT_EQ(info.unk_id, 3);
}

TEST(BpePostProcessor, UnsupportedProcessorsAreRefusedByName) {
  auto error = [](const char* json) {
    try {
      read_post_processor(nlohmann::json::parse(json), "t/tokenizer.json");
    } catch (const LoadError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error(R"({"type": "BertProcessing", "sep": ["[SEP]", 1], "cls": ["[CLS]", 0]})")
                .find("t/tokenizer.json: post_processor: type 'BertProcessing' is not supported"),
            std::string::npos);
  EXPECT_NE(error(R"({"type": "RobertaProcessing", "sep": ["</s>"], "cls": ["<s>", 0]})")
                .find("RobertaProcessing.sep: expected [token, id]"),
            std::string::npos);
  EXPECT_NE(error(R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<x>"}},
                      {"Sequence": {"id": "A"}}], "special_tokens": {}})")
                .find("no ids for '<x>'"),
            std::string::npos);
  EXPECT_TRUE(read_post_processor(nlohmann::json(), "x").empty());
}

}  // namespace
}  // namespace qkv::bpe::test
