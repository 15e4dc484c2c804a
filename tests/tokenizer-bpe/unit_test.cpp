// Fast checks of the BPE core and of the plugin as the host loads it: tiktoken's published
// examples, special-token policies, offsets, truncation, loader errors, both merge spellings
// of tokenizer.json, raw invalid bytes, threads.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "host/plugin_error.hpp"
#include "loaders.hpp"
#include "pretokenizer.hpp"
#include "test_data.hpp"
#include "tokenizers.hpp"

namespace qkv::bpe::test {
namespace {

std::vector<int32_t> enc(const Bpe& bpe, std::string_view text,
                         SpecialSelection::Kind kind = SpecialSelection::kDefault,
                         uint32_t max_length = 0, std::vector<uint32_t>* offsets = nullptr) {
  std::vector<int32_t> ids;
  SpecialSelection sel;
  sel.kind = kind;
  bpe.encode(text, sel, max_length, ids, offsets);
  return ids;
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A scratch directory removed at the end of the test.
struct TempDir {
  std::filesystem::path dir;
  TempDir() {
    dir = std::filesystem::temp_directory_path() /
          ("qkv-bpe-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
           "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir);
  }
  ~TempDir() { std::filesystem::remove_all(dir); }
  std::string write(const std::string& name, const std::string& content) const {
    const auto p = (dir / name).string();
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
};

// The examples tiktoken itself produced (data/vocab/*.meta.json).
TEST(BpeUnit, MetaExamplesOfEachEncoding) {
  for (auto [source, meta] : {std::pair{"r50k_tiktoken", "r50k_base"},
                              {"cl100k", "cl100k_base"},
                              {"o200k", "o200k_base"}}) {
    const auto j = nlohmann::json::parse(read(vocab(std::string(meta) + ".meta.json")));
    const Bpe& bpe = tokenizer(source);
    for (auto it = j["examples"].begin(); it != j["examples"].end(); ++it)
      EXPECT_EQ(enc(bpe, it.key()), it.value().get<std::vector<int32_t>>())
          << meta << " '" << it.key() << "'";
    for (auto it = j["special_tokens"].begin(); it != j["special_tokens"].end(); ++it)
      EXPECT_EQ(bpe.token_to_id(it.key()), it.value().get<int32_t>()) << meta << " " << it.key();
    EXPECT_EQ(bpe.vocab_size(), j["n_vocab"].get<uint32_t>()) << meta;
  }
}

TEST(BpeUnit, SpecialTokenPolicies) {
  const Bpe& bpe = tokenizer("cl100k");
  const auto eot_text = enc(bpe, "<|endoftext|>", SpecialSelection::kNone);
  const auto eop_text = enc(bpe, "<|endofprompt|>", SpecialSelection::kNone);
  EXPECT_EQ(enc(bpe, "<|endoftext|>"), eot_text);  // tiktoken file: encode_ordinary by default
  EXPECT_EQ(enc(bpe, "<|endoftext|>", SpecialSelection::kAll), std::vector<int32_t>{100257});

  const std::string_view names[] = {"<|endoftext|>"};
  SpecialSelection list{SpecialSelection::kList, names};
  std::vector<int32_t> ids;
  bpe.encode("<|endoftext|><|endofprompt|>", list, 0, ids, nullptr);
  std::vector<int32_t> want{100257};
  want.insert(want.end(), eop_text.begin(), eop_text.end());
  EXPECT_EQ(ids, want);

  const std::string_view unknown[] = {"<|nope|>"};
  EXPECT_THROW(bpe.encode("x", {SpecialSelection::kList, unknown}, 0, ids, nullptr),
               std::invalid_argument);
  // tokenizer.json matches its added tokens by default, as HF does.
  EXPECT_EQ(enc(tokenizer("gpt2_hf"), "a<|endoftext|>"), (std::vector<int32_t>{64, 50256}));
}

TEST(BpeUnit, OffsetsTileTheTextAndMatchTokenBytes) {
  const auto docs = corpus("mixed_edge");
  for (const char* source : {"r50k_tiktoken", "cl100k", "o200k"}) {
    const Bpe& bpe = tokenizer(source);
    for (size_t d = 0; d < docs.size(); d += 7) {
      std::vector<uint32_t> off;
      const auto ids = enc(bpe, docs[d], SpecialSelection::kAll, 0, &off);
      ASSERT_EQ(ids, enc(bpe, docs[d], SpecialSelection::kAll)) << source << " doc " << d;
      ASSERT_EQ(off.size(), 2 * ids.size());
      uint32_t pos = 0;
      for (size_t i = 0; i < ids.size(); ++i) {
        ASSERT_EQ(off[2 * i], pos) << source << " doc " << d << " token " << i;
        std::string_view b;
        ASSERT_TRUE(bpe.token_bytes(ids[i], &b));
        ASSERT_EQ(docs[d].substr(pos, off[2 * i + 1] - pos), b) << source << " doc " << d;
        pos = off[2 * i + 1];
      }
      EXPECT_EQ(pos, docs[d].size());
    }
  }
}

TEST(BpeUnit, MaxLengthKeepsThePrefix) {
  const Bpe& bpe = tokenizer("o200k");
  const std::string text = corpus("en", 4).at(3);
  const auto full = enc(bpe, text);
  for (uint32_t k : {1u, 5u, 100u}) {
    std::vector<uint32_t> off;
    const auto cut = enc(bpe, text, SpecialSelection::kDefault, k, &off);
    EXPECT_EQ(cut, std::vector<int32_t>(full.begin(), full.begin() + k));
    EXPECT_EQ(off.size(), 2 * size_t(k));
  }
  EXPECT_EQ(enc(bpe, text, SpecialSelection::kDefault, uint32_t(full.size() + 10)), full);
  // Specials count towards the limit.
  EXPECT_EQ(enc(bpe, "<|endoftext|> hi", SpecialSelection::kAll, 1), std::vector<int32_t>{199999});
}

TEST(BpeUnit, GoldenPrefixOfEveryCorpusIsExact) {
  // A quick slice of the parity suite, so the sanitizer build checks real text too: the three
  // patterns, and both merge semantics (tiktoken ranks, GPT-2 merge list).
  for (const auto& src : kSources) {
    if (src.name != "gpt2_files" && src.name != "cl100k" && src.name != "o200k") continue;
    const Bpe& bpe = tokenizer(src.name);
    for (const char* stem : {"en", "ru", "zh", "ja", "code"}) {
      const auto docs = corpus(stem, 3);
      const auto gold = golden(std::string(stem) + "." + src.golden, 3);
      for (size_t d = 0; d < 3; ++d)
        EXPECT_EQ(enc(bpe, docs[d]), gold[d]) << src.name << " " << stem;
    }
  }
}

TEST(BpeUnit, RawInvalidBytesRoundTripExactly) {
  // The host normally validates or repairs UTF-8; the tokenizer must still never fail on it.
  for (const char* source : {"r50k_tiktoken", "cl100k", "o200k"}) {
    const Bpe& bpe = tokenizer(source);
    for (const auto& line : invalid_utf8_lines()) {
      std::string back;
      bpe.decode(enc(bpe, line), back);
      EXPECT_EQ(back, line) << source;
    }
  }
}

TEST(BpeUnit, LongRunsWithoutWhitespaceMatchGoldens) {
  // The mixed_edge long runs (10000 x 'a', base64, CJK, ...) go through the bucket merger.
  const auto docs = corpus("mixed_edge");
  for (const auto& src : kSources) {
    if (src.name != "r50k_tiktoken" && src.name != "o200k") continue;
    const auto gold = golden("mixed_edge." + src.golden);
    for (size_t d = 0; d < docs.size(); ++d)
      if (docs[d].size() > 5000) {
        EXPECT_EQ(enc(tokenizer(src.name), docs[d]), gold[d]) << d;
      }
  }
}

TEST(BpeUnit, DecodeUnknownIdFails) {
  const Bpe& bpe = tokenizer("cl100k");
  std::string out;
  const int32_t ids[] = {15339, 100256};  // 100256 is the gap below the specials
  try {
    bpe.decode(ids, out);
    FAIL() << "no error";
  } catch (const std::out_of_range& e) {
    EXPECT_NE(std::string(e.what()).find("100256 at position 1"), std::string::npos) << e.what();
  }
}

TEST(BpeUnit, OneInstanceManyThreads) {
  const Bpe& bpe = tokenizer("cl100k");
  const auto docs = corpus("ru", 12);
  const auto gold = golden("ru.cl100k_base", 12);
  std::vector<int> wrong(3, 0);
  std::vector<std::thread> ts;
  for (int t = 0; t < 3; ++t)
    ts.emplace_back([&, t] {
      for (size_t d = size_t(t); d < 12; ++d)
        if (enc(bpe, docs[d]) != gold[d]) ++wrong[size_t(t)];
    });
  for (auto& th : ts) th.join();
  EXPECT_EQ(wrong, std::vector<int>(3, 0));
}

TEST(BpeUnit, TokenizerJsonWithStringMerges) {
  // The hub's older spelling "a b" must load to the same tokenizer as [["a","b"]] pairs.
  auto j = nlohmann::json::parse(read(vocab("gpt2/tokenizer.json")));
  ASSERT_TRUE(j["model"]["merges"][0].is_array());
  for (auto& m : j["model"]["merges"]) m = m[0].get<std::string>() + " " + m[1].get<std::string>();
  TempDir tmp;
  BpeConfig c;
  c.tokenizer_json = tmp.write("tokenizer.json", j.dump());
  const auto bpe = make_bpe(c);
  const auto docs = corpus("en", 5);
  const auto gold = golden("en.r50k_base", 5);
  for (size_t d = 0; d < 5; ++d) EXPECT_EQ(enc(*bpe, docs[d]), gold[d]);
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(BpeUnit, LoaderErrorsNameFileAndLine) {
  TempDir tmp;
  BpeConfig c;
  c.ranks = (tmp.dir / "missing.tiktoken").string();
  const std::string missing = error_of([&] { make_bpe(c); });
  EXPECT_NE(missing.find("missing.tiktoken: cannot open"), std::string::npos) << missing;

  c.ranks = tmp.write("bad.tiktoken", "IQ== 0\nIg== 1\nnot-base64! 2\n");
  const std::string bad = error_of([&] { make_bpe(c); });
  EXPECT_NE(bad.find("bad.tiktoken:3: invalid base64"), std::string::npos) << bad;

  c.ranks = tmp.write("rank.tiktoken", "IQ== 0\nIg== x1\n");
  EXPECT_NE(error_of([&] { make_bpe(c); }).find("rank.tiktoken:2: invalid rank"),
            std::string::npos);

  c.ranks = tmp.write("short.tiktoken", "IQ== 0\n");  // not every byte has a token
  EXPECT_NE(error_of([&] { make_bpe(c); }).find("no token for byte"), std::string::npos);

  BpeConfig g;
  g.encoding = "gpt2";
  g.encoder_json = vocab("gpt2/encoder.json");
  g.vocab_bpe = tmp.write("vocab.bpe", "#version: 0.2\n\xC4\xA0 t\nonly-one-token\n");
  const std::string merges = error_of([&] { make_bpe(g); });
  EXPECT_NE(merges.find("vocab.bpe:3: expected two tokens"), std::string::npos) << merges;
  g.vocab_bpe = tmp.write("vocab2.bpe", "#version: 0.2\nzzzq zzzq\n");
  EXPECT_NE(error_of([&] { make_bpe(g); }).find("vocab2.bpe:2: \"zzzq\" is not in the vocabulary"),
            std::string::npos);

  BpeConfig h;
  h.tokenizer_json = tmp.write("t.json", "{\n  \"model\": [1,\n}");
  const std::string json = error_of([&] { make_bpe(h); });
  EXPECT_NE(json.find("t.json:3:"), std::string::npos) << json;
  h.tokenizer_json = tmp.write(
      "t2.json",
      R"({"model":{"type":"BPE","vocab":{},"merges":[]},"pre_tokenizer":{"type":"Whitespace"}})");
  EXPECT_NE(error_of([&] { make_bpe(h); }).find("pre_tokenizer: type 'Whitespace'"),
            std::string::npos);

  BpeConfig two = config_for("cl100k");
  two.tokenizer_json = vocab("gpt2/tokenizer.json");
  EXPECT_NE(error_of([&] { make_bpe(two); }).find("exactly one source"), std::string::npos);
  BpeConfig name = config_for("cl100k");
  name.encoding = "p50k";
  EXPECT_NE(error_of([&] { make_bpe(name); }).find("unknown encoding 'p50k'"), std::string::npos);
}

TEST(BpeUnit, PatternsAreRecognisedFromTheirRegex) {
  for (const char* meta : {"r50k_base", "cl100k_base", "o200k_base"}) {
    const auto j = nlohmann::json::parse(read(vocab(std::string(meta) + ".meta.json")));
    EXPECT_TRUE(pattern_from_regex(j["pat_str"].get<std::string>()).has_value()) << meta;
  }
  EXPECT_FALSE(pattern_from_regex("\\w+").has_value());
}

// ------------------------------------------------------------------ through the plugin .so

TEST(BpePluginUnit, InfoAndTokenLookup) {
  const auto& gpt2 = plugin("gpt2_files");
  EXPECT_EQ(gpt2.info().vocab_size, 50257u);
  EXPECT_EQ(gpt2.info().eos_id, 50256);
  EXPECT_EQ(gpt2.token_to_id("<|endoftext|>"), 50256);
  EXPECT_EQ(gpt2.token_to_id(" the"), 262);
  EXPECT_EQ(gpt2.token_to_id("\xC4\xA0the"), 262);  // "Ġthe", the vocab file's spelling
  EXPECT_EQ(gpt2.token_to_id("no-such-token-here"), -1);
  EXPECT_EQ(plugin("o200k").info().vocab_size, 200019u);
}

TEST(BpePluginUnit, EncodeOptionsCrossTheAbi) {
  const auto& tok = plugin("cl100k");
  const std::string text = "hello <|endoftext|> world";
  std::vector<int32_t> ids;
  std::vector<uint32_t> off;
  tok.encode(text, qkv::host::encode_options(0, QKV_SPECIAL_ALL, 3), ids, &off);
  EXPECT_EQ(ids, (std::vector<int32_t>{15339, 220, 100257}));
  EXPECT_EQ(off, (std::vector<uint32_t>{0, 5, 5, 6, 6, 19}));
  const char* names[] = {"<|endofprompt|>"};
  qkv_encode_options o = qkv::host::encode_options(0, QKV_SPECIAL_LIST);
  o.special_names = names;
  o.special_count = 1;
  EXPECT_EQ(tok.encode(text, o), tok.encode(text, qkv::host::encode_options(0, QKV_SPECIAL_NONE)));
  EXPECT_EQ(tok.decode(tok.encode(text)), text);
  const int32_t bad[] = {100256};
  EXPECT_THROW(tok.decode(std::span(bad)), qkv::PluginError);
  const char* unknown[] = {"<|x|>"};
  o.special_names = unknown;
  EXPECT_THROW(tok.encode(text, o), qkv::PluginError);
}

TEST(BpePluginUnit, ConfigErrorsNameTheProblem) {
  qkv::host::PluginRegistry registry;
  ASSERT_TRUE(registry.load_file(QKV_BPE_PLUGIN_FILE)) << registry.errors().at(0);
  const auto& p = registry.require(QKV_KIND_TOKENIZER, "tokenizer-bpe");
  auto make = [&](YAML::Node n) {
    qkv::host::InstanceConfig cfg;
    cfg.config = qkv::host::ConfigValue::from_yaml(n);
    cfg.config_dir = source_dir() + "/data/vocab";
    cfg.source_file = "pipeline.yaml";
    return error_of([&] { qkv::host::PluginInstance inst(p, std::move(cfg)); });
  };
  YAML::Node none;
  none["encoding"] = "cl100k_base";
  EXPECT_NE(make(none).find("exactly one source"), std::string::npos) << make(none);
  YAML::Node missing;
  missing["encoding"] = "cl100k_base";
  missing["ranks"] = "nope.tiktoken";
  EXPECT_NE(make(missing).find("nope.tiktoken: cannot open"), std::string::npos) << make(missing);
}

}  // namespace
}  // namespace qkv::bpe::test
