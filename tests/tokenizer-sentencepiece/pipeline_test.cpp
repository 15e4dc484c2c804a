// The shipped tokenize-sp-unigram / tokenize-sp-bpe pipelines end to end through pipeline::run_job
// with the real plugin: ids equal the SentencePiece goldens on every document of every corpus;
// either pipeline serves any model through --set tokenizer.config.model (Unigram or BPE comes from
// the file); tokenizer_json instead; .bin output picks uint16 for these vocabularies.
#include <gtest/gtest.h>
#include <zlib.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "fixtures.hpp"
#include "host/plugin_registry.hpp"
#include "pipeline/run_job.hpp"
#include "pipeline/stage_cache.hpp"
#include "test_support.hpp"

namespace {

using namespace qkv;
using namespace qkv::test;
using qkv::sentencepiece::testing::golden_lines;
using qkv::sentencepiece::testing::kCorpora;
using qkv::sentencepiece::testing::kModels;

const fs::path kRoot = QKV_SOURCE_DIR;

std::string golden_text(const std::string& file) {
  std::string out;
  for (const auto& line : golden_lines(file)) out += line + "\n";
  return out;
}

class SentencePiecePipelines : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_ = std::make_unique<host::PluginRegistry>();
    registry_->load_directory(QKV_PLUGIN_DIR);
  }
  static void TearDownTestSuite() { registry_.reset(); }
  void SetUp() override {
    ASSERT_NE(registry_->find(QKV_KIND_TOKENIZER, "tokenizer-sentencepiece"), nullptr)
        << ::testing::PrintToString(registry_->errors());
    env_.pipelines_dir = kRoot / "configs/pipelines";
    env_.plugins = registry_.get();
    env_.threads = 2;
    env_.cache = std::make_shared<pipeline::StageCache>();
  }
  pipeline::JobResult run(const std::string& pipeline, const std::string& corpus,
                          const fs::path& out, config::Overrides sets = {}) {
    pipeline::JobSpec s;
    s.id = "sp";
    s.pipeline = pipeline;
    s.inputs = {(kRoot / "tests/data/corpus" / (corpus + ".jsonl")).string()};
    s.output = out.string();
    s.overrides = std::move(sets);
    pipeline::JobProgress progress;
    pipeline::CancelFlag cancel;
    return pipeline::run_job(s, env_, progress, cancel);
  }
  static void expect_same_lines(const std::string& got, const std::string& want,
                                const std::string& what) {
    auto g = split_lines(got), w = split_lines(want);
    EXPECT_EQ(g.size(), w.size()) << what;
    size_t bad = 0;
    for (size_t i = 0; i < std::min(g.size(), w.size()); ++i)
      if (g[i] != w[i] && ++bad <= 3)
        ADD_FAILURE() << what << ": document " << i << " differs:\n got  " << g[i].substr(0, 200)
                      << "\n want " << w[i].substr(0, 200);
    EXPECT_EQ(bad, 0u) << what;
  }
  static std::string model_file(const std::string& model, const char* file) {
    return (kRoot / "data/vocab/sentencepiece" / model / file).string();
  }

  static std::unique_ptr<host::PluginRegistry> registry_;
  pipeline::RunEnvironment env_;
  TempDir dir_;
};
std::unique_ptr<host::PluginRegistry> SentencePiecePipelines::registry_;

TEST_F(SentencePiecePipelines, ShippedPipelinesGiveTheGoldenIdsOnEveryDocument) {
  for (const auto& [pipeline, model] : {std::pair{"tokenize-sp-unigram", "unigram-8k"},
                                        std::pair{"tokenize-sp-bpe", "bpe-6k-llama"}}) {
    for (const char* corpus : kCorpora) {
      const fs::path out = dir_ / "ids.jsonl";
      run(pipeline, corpus, out);
      expect_same_lines(slurp(out), golden_text(std::string(corpus) + ".sp-" + model + ".jsonl.gz"),
                        std::string(pipeline) + " on " + corpus);
    }
  }
}

TEST_F(SentencePiecePipelines, AnyModelThroughEitherPipeline) {
  for (const char* pipeline : {"tokenize-sp-unigram", "tokenize-sp-bpe"}) {
    for (const char* model : kModels) {
      const fs::path out = dir_ / "ids.jsonl";
      run(pipeline, "mixed_edge", out,
          {{"tokenizer.config.model", model_file(model, "tokenizer.model")}});
      expect_same_lines(slurp(out),
                        golden_text(std::string("mixed_edge.sp-") + model + ".jsonl.gz"),
                        std::string(pipeline) + " with " + model);
    }
  }
}

TEST_F(SentencePiecePipelines, TokenizerJsonInsteadOfModel) {
  const fs::path out = dir_ / "ids.jsonl";
  run("tokenize-sp-bpe", "en", out,
      {{"tokenizer.config.model", "null"},
       {"tokenizer.config.tokenizer_json", model_file("bpe-6k-llama", "tokenizer.json")}});
  const auto got = split_lines(slurp(out));
  const auto sp = golden_lines("en.sp-bpe-6k-llama.jsonl.gz");
  const auto hf = golden_lines("en.sp-bpe-6k-llama.hf.jsonl.gz");
  ASSERT_EQ(got.size(), sp.size());
  size_t compared = 0, bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (hf[i] != "null") continue;  // a documented HF/SentencePiece disagreement
    ++compared;
    auto want = nlohmann::json::parse(sp[i]);
    want.insert(want.begin(), 1);  // the converter's template: <s> (id 1) first
    if (nlohmann::json::parse(got[i]) != want) ++bad;
  }
  EXPECT_GT(compared, 500u);
  EXPECT_EQ(bad, 0u);
}

TEST_F(SentencePiecePipelines, BothModelKeysAreAnError) {
  EXPECT_THROW(
      run("tokenize-sp-unigram", "mixed_edge", dir_ / "never.jsonl",
          {{"tokenizer.config.tokenizer_json", model_file("unigram-8k", "tokenizer.json")}}),
      std::exception);
  EXPECT_FALSE(fs::exists(dir_ / "never.jsonl"));
}

TEST_F(SentencePiecePipelines, BinOutputIsUint16ForTheseVocabularies) {
  for (const char* pipeline : {"tokenize-sp-unigram", "tokenize-sp-bpe"}) {
    pipeline::JobResult r = run(pipeline, "ru", dir_ / "train.bin", {});
    EXPECT_GT(r.tokens, 0u);
    // Each document is followed by the model's </s> (the default separator).
    const uint64_t ids = r.tokens + r.documents;
    EXPECT_EQ(fs::file_size(dir_ / "train.bin"), ids * 2) << pipeline;
    Npy idx = read_npy_independently(dir_ / "train.idx.npy");
    EXPECT_EQ(static_cast<uint64_t>(idx.values<int64_t>().back()), ids) << pipeline;
  }
}

}  // namespace
