// End to end through pipeline::run_job with the real tokenizer plugins and the shipped pipelines:
// ids equal the goldens (tests/data/golden, made by tiktoken / HF tokenizers) for every
// document of every corpus file; the invalid-UTF-8 policies; decode(encode(x)) == x through
// the decode direction; .bin round trips.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <memory>
#include <tuple>

#include "cli/cli_context.hpp"
#include "config/diagnostics.hpp"
#include "host/plugin_registry.hpp"
#include "pipeline/run_job.hpp"
#include "test_support.hpp"

namespace {

using namespace qkv;
using namespace qkv::test;

const fs::path kRoot = QKV_SOURCE_DIR;
const char* kCorpora[] = {"en", "ru", "zh", "ja", "code", "mixed_edge"};

std::string gunzip(const fs::path& p) {
  gzFile g = gzopen(p.c_str(), "rb");
  EXPECT_NE(g, nullptr) << p;
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(g, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  gzclose(g);
  return out;
}

class Parity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_ = std::make_unique<host::PluginRegistry>();
    registry_->load_directory(QKV_PLUGIN_DIR);
    cache_ = std::make_shared<pipeline::StageCache>();
  }
  static void TearDownTestSuite() {
    cache_.reset();
    registry_.reset();
  }

  void SetUp() override {
    ASSERT_NE(registry_->find(QKV_KIND_TOKENIZER, "tokenizer-bpe"), nullptr)
        << ::testing::PrintToString(registry_->errors());
    ASSERT_NE(registry_->find(QKV_KIND_TOKENIZER, "tokenizer-wordpiece"), nullptr);
    env_.pipelines_dir = kRoot / "configs/pipelines";
    env_.plugins = registry_.get();
    env_.threads = 2;
    env_.cache = cache_;  // each vocabulary loads once for the whole suite
  }
  pipeline::JobResult run(const std::string& pipeline, std::vector<std::string> inputs,
                          const fs::path& out, config::Overrides sets = {}, bool decode = false) {
    pipeline::JobSpec s;
    s.id = "parity";
    s.pipeline = pipeline;
    s.inputs = std::move(inputs);
    s.output = out.string();
    s.overrides = std::move(sets);
    s.decode = decode;
    pipeline::JobProgress progress;
    pipeline::CancelFlag cancel;
    return pipeline::run_job(s, env_, progress, cancel);
  }
  // Compares line by line, reporting the first few differing documents.
  static void expect_same_lines(const std::string& got, const std::string& want,
                                const std::string& what) {
    auto g = split_lines(got), w = split_lines(want);
    EXPECT_EQ(g.size(), w.size()) << what;
    int shown = 0;
    size_t bad = 0;
    for (size_t i = 0; i < std::min(g.size(), w.size()); ++i) {
      if (g[i] == w[i]) continue;
      ++bad;
      if (shown++ < 3)
        ADD_FAILURE() << what << ": document " << i << " differs:\n got  " << g[i].substr(0, 300)
                      << "\n want " << w[i].substr(0, 300);
    }
    EXPECT_EQ(bad, 0u) << what;
  }

  static std::unique_ptr<host::PluginRegistry> registry_;
  static std::shared_ptr<pipeline::StageCache> cache_;
  pipeline::RunEnvironment env_;
  TempDir dir_;
};
std::unique_ptr<host::PluginRegistry> Parity::registry_;
std::shared_ptr<pipeline::StageCache> Parity::cache_;

struct Shipped {
  const char* pipeline;
  const char* golden;
};
const Shipped kShipped[] = {{"tokenize-gpt2", "r50k_base"},
                            {"tokenize-cl100k", "cl100k_base"},
                            {"tokenize-o200k", "o200k_base"},
                            {"tokenize-bert-base-uncased", "bert-base-uncased"}};

TEST_F(Parity, ShippedPipelinesGiveTheGoldenIdsOnEveryDocument) {
  for (const auto& s : kShipped) {
    for (const char* corpus : kCorpora) {
      const fs::path out = dir_ / (std::string(corpus) + "." + s.golden + ".jsonl");
      run(s.pipeline, {(kRoot / "tests/data/corpus" / (std::string(corpus) + ".jsonl")).string()},
          out);
      expect_same_lines(slurp(out),
                        gunzip(kRoot / "tests/data/golden" /
                               (std::string(corpus) + "." + s.golden + ".jsonl.gz")),
                        std::string(s.pipeline) + " on " + corpus);
      fs::remove(out);
    }
  }
}

TEST_F(Parity, AllowedSpecialTokensOnMixedEdge) {
  for (const auto& [pipeline, golden] :
       {std::pair{"tokenize-gpt2", "r50k_base"}, std::pair{"tokenize-cl100k", "cl100k_base"},
        std::pair{"tokenize-o200k", "o200k_base"}}) {
    const fs::path out = dir_ / "special.jsonl";
    run(pipeline, {(kRoot / "tests/data/corpus/mixed_edge.jsonl").string()}, out,
        {{"tokenizer.special_tokens", "all"}});
    expect_same_lines(slurp(out),
                      gunzip(kRoot / "tests/data/golden" /
                             (std::string("mixed_edge.") + golden + ".allowed_special.jsonl.gz")),
                      std::string(pipeline) + " special_tokens: all");
  }
}

TEST_F(Parity, InvalidUtf8ReplacePolicyMatchesReplacedGoldens) {
  for (const auto& s : kShipped) {
    const fs::path out = dir_ / "replaced.jsonl";
    pipeline::JobResult r =
        run(s.pipeline, {(kRoot / "tests/data/corpus/invalid_utf8.bin").string()}, out,
            {{"input.format", "txt"}, {"input.invalid_utf8", "replace"}});
    EXPECT_EQ(r.documents, 49u);
    expect_same_lines(slurp(out),
                      gunzip(kRoot / "tests/data/golden" /
                             (std::string("invalid_utf8.") + s.golden + ".replaced.jsonl.gz")),
                      std::string(s.pipeline) + " invalid_utf8 replace");
  }
}

TEST_F(Parity, InvalidUtf8ErrorPolicyNamesTheFirstBadPlace) {
  // Line 1 of invalid_utf8.bin is the lone continuation byte 0x80 (cases.tsv line 0).
  const fs::path in = kRoot / "tests/data/corpus/invalid_utf8.bin";
  const fs::path out = dir_ / "never.jsonl";
  try {
    run("tokenize-cl100k", {in.string()}, out, {{"input.format", "txt"}});
    FAIL() << "no error";
  } catch (const pipeline::JobFailed& e) {
    EXPECT_EQ(std::string(e.what()),
              in.string() +
                  ":1: document 0: invalid UTF-8 at byte 0 of the document's text "
                  "(byte 0 of the file); set input.invalid_utf8: replace to turn "
                  "invalid bytes into U+FFFD");
  }
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(dir_.names(), std::vector<std::string>{});
}

// decode(encode(x)) == x for every BPE document, through the decode direction.
TEST_F(Parity, DecodeOfEncodeIsTheOriginalText) {
  for (const char* pipeline : {"tokenize-gpt2", "tokenize-cl100k", "tokenize-o200k"}) {
    for (const char* corpus : kCorpora) {
      const fs::path in = kRoot / "tests/data/corpus" / (std::string(corpus) + ".jsonl");
      run(pipeline, {in.string()}, dir_ / "ids.jsonl");
      run(pipeline, {(dir_ / "ids.jsonl").string()}, dir_ / "text.jsonl", {}, true);
      auto originals = split_lines(slurp(in));
      auto decoded = split_lines(slurp(dir_ / "text.jsonl"));
      ASSERT_EQ(decoded.size(), originals.size()) << pipeline << " " << corpus;
      size_t bad = 0;
      for (size_t i = 0; i < originals.size(); ++i) {
        auto d = nlohmann::json::parse(decoded[i]);
        if (!d.contains("text") || d["text"] != nlohmann::json::parse(originals[i])["text"]) ++bad;
      }
      EXPECT_EQ(bad, 0u) << pipeline << " " << corpus;
    }
  }
}

// Training .bin (uint16 for GPT-2, uint32 for cl100k; the format from the extension): each
// document is followed by tiktoken's eot_token, inside its .idx.npy range, as nanoGPT's
// prepare scripts write it; decoding drops the separator and gives the text back.
TEST_F(Parity, BinDecodesBackToText) {
  const fs::path in = kRoot / "tests/data/corpus/ru.jsonl";
  for (const auto& [pipeline, width, eot] :
       {std::tuple{"tokenize-gpt2", 2, 50256}, std::tuple{"tokenize-cl100k", 4, 100257}}) {
    pipeline::JobResult enc = run(pipeline, {in.string()}, dir_ / "train.bin");
    const uint64_t ids = enc.tokens + enc.documents;
    EXPECT_EQ(fs::file_size(dir_ / "train.bin"), ids * width) << pipeline;
    Npy idx = read_npy_independently(dir_ / "train.idx.npy");
    ASSERT_EQ(idx.shape, (std::vector<int64_t>{static_cast<int64_t>(enc.documents + 1)}));
    const auto starts = idx.values<int64_t>();
    EXPECT_EQ(static_cast<uint64_t>(starts.back()), ids);
    const std::string bin = slurp(dir_ / "train.bin");
    auto id_at = [&](int64_t i) {
      uint32_t v = 0;
      for (int b = width - 1; b >= 0; --b)
        v = v << 8 | static_cast<unsigned char>(bin[i * width + b]);
      return static_cast<int32_t>(v);
    };
    size_t ends_with_eot = 0;
    for (size_t d = 1; d < starts.size(); ++d) ends_with_eot += id_at(starts[d] - 1) == eot;
    EXPECT_EQ(ends_with_eot, enc.documents) << pipeline;
    auto manifest = nlohmann::json::parse(slurp(dir_ / "train.manifest.json"));
    EXPECT_EQ(manifest["format"], "bin");
    EXPECT_EQ(manifest["separator"], eot);
    run(pipeline, {(dir_ / "train.bin").string()}, dir_ / "back.jsonl", {}, true);
    auto originals = split_lines(slurp(in));
    auto decoded = split_lines(slurp(dir_ / "back.jsonl"));
    ASSERT_EQ(decoded.size(), originals.size());
    for (size_t i = 0; i < originals.size(); ++i)
      EXPECT_EQ(nlohmann::json::parse(decoded[i])["text"],
                nlohmann::json::parse(originals[i])["text"])
          << i;
  }
}

// Byte offsets cover each token's bytes: for BPE, concatenating the text slices gives the text.
TEST_F(Parity, OffsetsSliceTheText) {
  const fs::path in = kRoot / "tests/data/corpus/zh.jsonl";
  run("tokenize-cl100k", {in.string()}, dir_ / "off.jsonl", {{"output.offsets", "true"}});
  run("tokenize-cl100k", {in.string()}, dir_ / "ids.jsonl");
  auto originals = split_lines(slurp(in));
  auto with = split_lines(slurp(dir_ / "off.jsonl"));
  auto ids = split_lines(slurp(dir_ / "ids.jsonl"));
  ASSERT_EQ(with.size(), originals.size());
  for (size_t i = 0; i < originals.size(); ++i) {
    auto rec = nlohmann::json::parse(with[i]);
    EXPECT_EQ(rec["ids"].dump(), ids[i]);
    const std::string text = nlohmann::json::parse(originals[i])["text"];
    uint64_t at = 0;
    for (const auto& o : rec["offsets"]) {
      EXPECT_EQ(o[0].get<uint64_t>(), at) << "document " << i;
      at = o[1].get<uint64_t>();
    }
    EXPECT_EQ(at, text.size()) << "document " << i;
  }
}

// The bert pipeline on a decoded round trip is lossy by design (lowercase, accents), so
// only the id parity above applies to it; here: 1 vs 2 threads with a real plugin.
TEST_F(Parity, ThreadCountDoesNotChangeBytes) {
  const fs::path in = kRoot / "tests/data/corpus/mixed_edge.jsonl";
  std::vector<std::string> outs;
  for (unsigned t : {1u, 2u}) {
    env_.threads = t;
    run("tokenize-bert-base-uncased", {in.string()}, dir_ / ("t" + std::to_string(t) + ".jsonl"),
        {{"batch.documents", "5"}});
    outs.push_back(slurp(dir_ / ("t" + std::to_string(t) + ".jsonl")));
  }
  EXPECT_EQ(outs[0], outs[1]);
}

// Jobs share a tokenizer instance when their tokenizer sections agree; options such as
// special_tokens stay per job.
TEST_F(Parity, StageCacheSharesTokenizerInstancesNotOptions) {
  env_.cache = std::make_shared<pipeline::StageCache>();
  const fs::path in = kRoot / "tests/data/corpus/mixed_edge.jsonl";
  run("tokenize-cl100k", {in.string()}, dir_ / "a.jsonl");
  run("tokenize-cl100k", {in.string()}, dir_ / "b.jsonl", {{"tokenizer.special_tokens", "all"}});
  EXPECT_EQ(env_.cache->tokenizers(), 1u);
  expect_same_lines(slurp(dir_ / "a.jsonl"),
                    gunzip(kRoot / "tests/data/golden/mixed_edge.cl100k_base.jsonl.gz"),
                    "cached a");
  expect_same_lines(
      slurp(dir_ / "b.jsonl"),
      gunzip(kRoot / "tests/data/golden/mixed_edge.cl100k_base.allowed_special.jsonl.gz"),
      "cached b");
  run("tokenize-o200k", {in.string()}, dir_ / "c.jsonl");
  EXPECT_EQ(env_.cache->tokenizers(), 2u);
}

// `qkvd --check-config` on the shipped config: it and every shipped pipeline (tokenizers
// created from the real plugins) are valid.
TEST(ShippedConfig, CheckConfigIsClean) {
  qkv::cli::CliContext ctx;
  std::ostringstream os;
  const fs::path file = kRoot / "configs/qkvd.yaml";
  EXPECT_EQ(qkv::cli::check_config(ctx, file, os), 0) << os.str();
  EXPECT_EQ(os.str(), file.string() + ": ok\n");
}

}  // namespace
