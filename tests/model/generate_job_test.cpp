// Generation pipelines end to end through pipeline::run_job with the real plugins and the
// shipped generate-gpt2 pipeline (pipeline/generate_documents.cpp, io/generation_jsonl_writer):
// one record per input in input order whatever the batching, threads and cache budget;
// sampling reproducible and keyed by the seed; stops (max_new_tokens, eos ids, stop strings,
// the position table); prompts cut from the left or refused; inline texts.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "config/daemon_config.hpp"
#include "host/plugin_registry.hpp"
#include "model/stage.hpp"
#include "pipeline/run_job.hpp"
#include "plugin_support.hpp"
#include "test_support.hpp"

namespace qkv::model::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class GenerateJob : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("qkv-generate-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    env_.pipelines_dir = fs::path(QKV_SOURCE_DIR) / "configs/pipelines";
    env_.plugins = &bundled_plugins();
    env_.model_stage_factory = make_model_stage;
    static const auto cache = std::make_shared<pipeline::StageCache>();
    env_.cache = cache;  // the vocabulary and the model load once for the suite
    std::ofstream in(dir_ / "in.jsonl");
    const char* words[] = {"Hello", "world", "the", "quick", "brown", "fox", "jumps", "over"};
    for (int i = 0; i < 23; ++i) {
      Json line;
      std::string text;
      for (int w = 0; w <= i % 7; ++w) text += std::string(w ? " " : "") + words[(i + w) % 8];
      line["text"] = text;
      in << line.dump() << "\n";
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<Json> run(config::Overrides sets, unsigned threads = 2,
                        pipeline::JobResult* result = nullptr) {
    pipeline::JobSpec s;
    s.pipeline = "generate-gpt2";
    s.inputs = {(dir_ / "in.jsonl").string()};
    s.output = (dir_ / "out.jsonl").string();
    s.overrides = std::move(sets);
    s.threads = threads;
    pipeline::JobProgress progress;
    pipeline::CancelFlag cancel;
    auto r = pipeline::run_job(s, env_, progress, cancel);
    EXPECT_EQ(progress.generated_tokens.load(), r.generated_tokens);
    if (result) *result = r;
    std::vector<Json> out;
    std::istringstream lines(slurp(dir_ / "out.jsonl"));
    for (std::string l; std::getline(lines, l);) out.push_back(Json::parse(l));
    return out;
  }

  fs::path dir_;
  pipeline::RunEnvironment env_;
};

TEST_F(GenerateJob, OneRecordPerInputInOrderWhateverTheBatching) {
  const auto base = run({{"generate.max_new_tokens", "6"}});
  ASSERT_EQ(base.size(), 23u);
  for (const auto& r : base) {
    EXPECT_EQ(r["finish_reason"], "length");
    EXPECT_EQ(r["ids"].size(), 6u);
    EXPECT_TRUE(r["text"].is_string());
  }
  // Small chunks, a cache budget that admits two or three sequences at a time, a tight pending
  // bound, one thread: the same bytes.
  const auto tight = run({{"generate.max_new_tokens", "6"},
                          {"batch.documents", "2"},
                          {"batch.max_tokens", "5"},
                          {"generate.max_cache_tokens", "30"},
                          {"generate.max_pending_documents", "1"}},
                         1);
  EXPECT_EQ(tight, base);
  // Different documents get different continuations (the records are not all one line).
  EXPECT_NE(base[0]["ids"], base[5]["ids"]);
}

TEST_F(GenerateJob, SamplingIsKeyedBySeedDocumentAndStepOnly) {
  const config::Overrides sample = {
      {"generate.max_new_tokens", "5"}, {"generate.strategy", "sample"},
      {"generate.temperature", "2.0"},  {"generate.top_k", "50"},
      {"generate.top_p", "0.9"},        {"generate.repetition_penalty", "1.3"}};
  auto with = [&](config::Overrides extra) {
    auto s = sample;
    s.insert(s.end(), extra.begin(), extra.end());
    return s;
  };
  const auto a = run(with({{"generate.seed", "1"}}), 2);
  const auto b = run(with({{"generate.seed", "1"}, {"batch.documents", "1"}}), 1);
  const auto c = run(with({{"generate.seed", "1"}, {"generate.max_cache_tokens", "40"}}), 2);
  const auto d = run(with({{"generate.seed", "2"}}), 2);
  ASSERT_EQ(a.size(), 23u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  size_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += a[i]["ids"] != d[i]["ids"];
  EXPECT_GT(differ, 15u);
  // Sampling is not greedy here.
  const auto greedy = run({{"generate.max_new_tokens", "5"}});
  differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += a[i]["ids"] != greedy[i]["ids"];
  EXPECT_GT(differ, 15u);
}

TEST_F(GenerateJob, StopStringsCutTheTextAndEndTheIdsWithTheirToken) {
  // texts[k]: document 3's text after k greedy tokens.
  std::vector<std::string> texts(4);
  for (int k = 1; k <= 3; ++k)
    texts[k] = run({{"generate.max_new_tokens", std::to_string(k)}})[3]["text"];
  const auto base = run({{"generate.max_new_tokens", "8"}});
  ASSERT_GT(texts[3].size(), texts[2].size());
  const std::string stop = texts[3].substr(texts[2].size());  // the third token's text
  // Where the stop string first completes: the first k whose text holds it.
  size_t k = 1;
  while (texts[k].find(stop) == std::string::npos) ++k;
  const auto stopped =
      run({{"generate.max_new_tokens", "8"}, {"generate.stop", Json(stop).dump()}});
  ASSERT_EQ(stopped.size(), base.size());
  const auto& r = stopped[3];
  EXPECT_EQ(r["finish_reason"], "stop");
  EXPECT_EQ(r["text"], texts[k].substr(0, texts[k].find(stop)));
  auto want = base[3]["ids"];
  want.erase(want.begin() + static_cast<std::ptrdiff_t>(k), want.end());
  EXPECT_EQ(r["ids"], want);
}

TEST_F(GenerateJob, EndOfSequenceIdsEndAndAreNotWritten) {
  // A copy of the model whose config.json names the greedy second token of document 0 as eos.
  const auto base = run({{"generate.max_new_tokens", "4"}});
  const int32_t eos = base[0]["ids"][1];
  const fs::path model = dir_ / "model";
  fs::create_directories(model);
  fs::create_symlink(fixture("gpt2-tiny") / "model.safetensors", model / "model.safetensors");
  auto cfg = Json::parse(slurp(fixture("gpt2-tiny") / "config.json"));
  cfg["eos_token_id"] = eos;
  std::ofstream(model / "config.json") << cfg.dump();
  const auto got = run({{"generate.max_new_tokens", "4"}, {"model.path", model.string()}});
  EXPECT_EQ(got[0]["finish_reason"], "eos");
  EXPECT_EQ(got[0]["ids"], Json::array({base[0]["ids"][0]}));
  for (size_t i = 0; i < got.size(); ++i)
    for (const auto& id : got[i]["ids"]) EXPECT_NE(id.get<int32_t>(), eos) << i;
}

TEST_F(GenerateJob, LongPromptsAreCutFromTheLeftOrRefused) {
  // gpt2-tiny has 64 positions: with 60 new tokens a prompt keeps its last 4 tokens.
  pipeline::JobResult r;
  const auto cut = run({{"generate.max_new_tokens", "60"}}, 2, &r);
  EXPECT_GT(r.truncated, 0u);
  for (const auto& x : cut) EXPECT_LE(x["ids"].size(), 60u);
  EXPECT_THROW(run({{"generate.max_new_tokens", "62"}, {"model.truncate", "false"}}),
               pipeline::JobFailed);
  // max_new_tokens past the table: generation ends with `length` at the table's end.
  const auto table = run({{"generate.max_new_tokens", "200"}});
  for (const auto& x : table) {
    EXPECT_EQ(x["finish_reason"], "length");
    EXPECT_LE(x["ids"].size(), 63u);
  }
}

TEST_F(GenerateJob, Seq2seqGeneratesFromEachSourceInOrder) {
  std::ofstream(dir_ / "src.jsonl")
      << "{\"src\":\"hello world\"}\n{\"src\":\"the quick brown fox\"}\n"
      << "{\"src\":\"hello world\"}\n";
  pipeline::JobSpec s;
  s.pipeline = "generate-seq2seq";
  s.inputs = {(dir_ / "src.jsonl").string()};
  s.output = (dir_ / "s2s.jsonl").string();
  s.overrides = {{"generate.max_new_tokens", "5"}, {"batch.documents", "1"}};
  pipeline::JobProgress progress;
  pipeline::CancelFlag cancel;
  const auto r = pipeline::run_job(s, env_, progress, cancel);
  EXPECT_EQ(r.documents, 3u);
  std::vector<Json> out;
  std::istringstream lines(slurp(dir_ / "s2s.jsonl"));
  for (std::string l; std::getline(lines, l);) out.push_back(Json::parse(l));
  ASSERT_EQ(out.size(), 3u);
  for (const auto& x : out) EXPECT_LE(x["ids"].size(), 5u);
  EXPECT_EQ(out[0], out[2]);  // the same source, the same continuation, wherever it is
  EXPECT_NE(out[0]["ids"], out[1]["ids"]);
}

TEST_F(GenerateJob, Seq2seqBeamSearchWritesTheBestBeamOfEachSourceInOrder) {
  std::ofstream(dir_ / "src.jsonl")
      << "{\"src\":\"hello world\"}\n{\"src\":\"the quick brown fox\"}\n"
      << "{\"src\":\"hello world\"}\n";
  std::vector<std::vector<Json>> runs;
  for (const char* docs : {"1", "256"}) {
    pipeline::JobSpec s;
    s.pipeline = "generate-seq2seq";
    s.inputs = {(dir_ / "src.jsonl").string()};
    s.output = (dir_ / "beam.jsonl").string();
    s.overrides = {{"generate.max_new_tokens", "6"},    {"generate.strategy", "beam"},
                   {"generate.num_beams", "3"},         {"generate.logprobs", "true"},
                   {"generate.early_stopping", "true"}, {"batch.documents", docs}};
    pipeline::JobProgress progress;
    pipeline::CancelFlag cancel;
    const auto r = pipeline::run_job(s, env_, progress, cancel);
    EXPECT_EQ(r.documents, 3u);
    std::vector<Json> out;
    std::istringstream lines(slurp(dir_ / "beam.jsonl"));
    for (std::string l; std::getline(lines, l);) out.push_back(Json::parse(l));
    ASSERT_EQ(out.size(), 3u);
    for (const auto& x : out) {
      EXPECT_LE(x["ids"].size(), 6u);
      EXPECT_EQ(x["logprobs"].size(), x["ids"].size());
      EXPECT_TRUE(x["finish_reason"] == "length" || x["finish_reason"] == "eos") << x;
    }
    EXPECT_EQ(out[0], out[2]);
    runs.push_back(out);
  }
  EXPECT_EQ(runs[0], runs[1]);  // batching does not change a document's beams
}

TEST_F(GenerateJob, ACancelledJobStopsAndWritesNothing) {
  pipeline::JobSpec s;
  s.pipeline = "generate-gpt2";
  s.inputs = {(dir_ / "in.jsonl").string()};
  s.output = (dir_ / "cancelled.jsonl").string();
  pipeline::JobProgress progress;
  pipeline::CancelFlag cancel;
  cancel.requested = true;
  EXPECT_THROW(pipeline::run_job(s, env_, progress, cancel), pipeline::JobCancelled);
  EXPECT_FALSE(fs::exists(dir_ / "cancelled.jsonl"));
}

TEST_F(GenerateJob, InlineTextsGiveOneGenerationObjectEach) {
  pipeline::JobSpec s;
  s.pipeline = "generate-gpt2";
  s.texts = {"Hello world", "The quick brown fox"};
  s.overrides = {{"generate.max_new_tokens", "3"}, {"generate.logprobs", "true"}};
  pipeline::JobProgress progress;
  pipeline::CancelFlag cancel;
  const auto r = pipeline::run_job(s, env_, progress, cancel);
  ASSERT_EQ(r.inline_results.size(), 2u);
  for (const auto& line : r.inline_results) {
    const auto j = Json::parse(line);
    EXPECT_EQ(j["ids"].size(), 3u);
    ASSERT_EQ(j["logprobs"].size(), 3u);
    for (const auto& lp : j["logprobs"]) EXPECT_LT(lp.get<double>(), 0.0);
  }
  EXPECT_EQ(r.generated_tokens, 6u);
  // In the daemon, limits.max_inline_new_tokens lowers max_new_tokens of inline runs.
  config::DaemonConfig daemon;
  daemon.limits.max_inline_new_tokens = 2;
  env_.daemon = &daemon;
  const auto capped = pipeline::run_job(s, env_, progress, cancel);
  for (const auto& line : capped.inline_results) EXPECT_EQ(Json::parse(line)["ids"].size(), 2u);
}

}  // namespace
}  // namespace qkv::model::testing
