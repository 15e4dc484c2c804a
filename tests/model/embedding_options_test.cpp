// The embedding options of issue 14 item 3, end to end through pipeline::run_job with the real
// plugins, against tests/model/make_hf_fixtures.py's bert-st fixture (a sentence-transformers
// BERT folder): the reference applies prompts, input.prefix, do_lower_case, max_seq_length,
// truncation_side and 8-token windows itself, from their definitions, and embeds in float64.
// Also the refusals, each naming the key and what was wrong.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "../pipeline/test_support.hpp"
#include "config/diagnostics.hpp"
#include "hf_support.hpp"
#include "model/stage.hpp"
#include "pipeline/run_job.hpp"
#include "test_support.hpp"

namespace qkv::model::testing {
namespace {

namespace fs = std::filesystem;
using qkv::test::read_npy_independently;
using qkv::test::slurp;

class EmbeddingOptions : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::remove_all(dir_.path() / "out.npy");
    env_.pipelines_dir = dir_.path();
    env_.plugins = &bundled_plugins();
    env_.model_stage_factory = make_model_stage;
  }

  // A pipeline over the fixture folder; `tokenizer` replaces the wordpiece section.
  fs::path pipeline(const std::string& extra_model = "", const std::string& extra = "",
                    const std::string& tokenizer = "") const {
    const fs::path f = dir_.path() / "p.yaml";
    const std::string folder = hf_fixture("bert-st").string();
    std::ofstream(f) << "input: {format: jsonl, field: text" << extra << "}\n"
                     << "tokenizer: "
                     << (tokenizer.empty() ? "{plugin: tokenizer-wordpiece, config: {vocab: " +
                                                 folder + "/vocab.txt, lowercase: false}}"
                                           : tokenizer)
                     << "\nmodel: {path: " << folder << ", output: pooled" << extra_model << "}\n";
    return f;
  }

  pipeline::JobResult run(config::Overrides sets = {}, const fs::path& file = {}) {
    pipeline::JobSpec s;
    s.pipeline = (file.empty() ? pipeline() : file).string();
    s.inputs = {(hf_fixture("bert-st") / "texts.jsonl").string()};
    s.output = (dir_.path() / "out.npy").string();
    s.overrides = std::move(sets);
    s.threads = 2;
    pipeline::JobProgress progress;
    pipeline::CancelFlag cancel;
    return pipeline::run_job(s, env_, progress, cancel);
  }

  std::vector<float> vectors() const {
    const auto npy = read_npy_independently(dir_.path() / "out.npy");
    EXPECT_EQ(npy.descr, "<f4");
    return npy.values<float>();
  }

  std::string error_of(config::Overrides sets, const fs::path& file = {}) {
    try {
      run(std::move(sets), file);
    } catch (const config::ConfigError& e) {
      std::string all;
      for (const auto& d : e.diagnostics()) all += d.str() + "\n";
      return all;
    } catch (const std::exception& e) {
      return e.what();
    }
    return {};
  }

  // The records of a tokenize-only pipeline (the fixture's vocab.txt, case kept) over the texts.
  std::vector<nlohmann::json> ids_records(const std::string& input, const std::string& tokenizer,
                                          const std::string& output) {
    const fs::path f = dir_.path() / "ids.yaml";
    std::ofstream(f) << input << "\ntokenizer: {plugin: tokenizer-wordpiece, " << tokenizer
                     << ", config: {vocab: " << hf_fixture("bert-st").string()
                     << "/vocab.txt, lowercase: false}}\n"
                     << output << "\n";
    pipeline::JobSpec s;
    s.pipeline = f.string();
    s.inputs = {(hf_fixture("bert-st") / "texts.jsonl").string()};
    s.output = (dir_.path() / "ids.jsonl").string();
    pipeline::JobProgress progress;
    pipeline::CancelFlag cancel;
    pipeline::run_job(s, env_, progress, cancel);
    std::vector<nlohmann::json> records;
    for (const auto& line : qkv::test::split_lines(slurp(dir_.path() / "ids.jsonl")))
      records.push_back(nlohmann::json::parse(line));
    return records;
  }

  void expect_error(config::Overrides sets, const std::string& needle, const fs::path& file = {}) {
    const std::string e = error_of(std::move(sets), file);
    EXPECT_NE(e.find(needle), std::string::npos) << "error: " << e << "\nexpected: " << needle;
  }

  qkv::test::TempDir dir_;
  pipeline::RunEnvironment env_;
  const HfExpected e_{"bert-st"};
};

TEST_F(EmbeddingOptions, TheFoldersDefaultPromptLowerCaseAndMaxSeqLength) {
  const auto r = run();
  EXPECT_EQ(r.documents, 5u);
  EXPECT_EQ(r.truncated, 1u);  // document 2 is longer than max_seq_length 16
  expect_close(vectors(), e_.floats("default"), "default prompt 'query'");
  EXPECT_EQ(r.tokens, e_.ints("default_ids").size());
}

TEST_F(EmbeddingOptions, APromptByName) {
  run({{"model.prompt_name", "passage"}});
  expect_close(vectors(), e_.floats("passage"), "prompt 'passage'");
  // Not the default prompt's vectors: the option did something.
  const auto p = vectors(), q = e_.floats("default");
  float diff = 0;
  for (size_t i = 0; i < p.size(); ++i) diff = std::max(diff, std::abs(p[i] - q[i]));
  EXPECT_GT(diff, 1e-2f);
}

TEST_F(EmbeddingOptions, InputPrefixReplacesTheDefaultPrompt) {
  run({{"input.prefix", "'Search: '"}});
  expect_close(vectors(), e_.floats("prefix"), "input.prefix");
}

TEST_F(EmbeddingOptions, LeftTruncationKeepsTheLastTokensBetweenTheSpecials) {
  const auto r = run({{"tokenizer.truncation_side", "left"}});
  EXPECT_EQ(r.truncated, 1u);
  expect_close(vectors(), e_.floats("left"), "truncation_side left");
}

TEST_F(EmbeddingOptions, OneVectorPerWindowWithItsDocumentAndBytes) {
  run({{"model.chunk", "{tokens: 8, overlap: 2}"}});
  const auto main = read_npy_independently(dir_.path() / "out.npy");
  const auto ref_windows = e_.ints("chunk_windows");
  ASSERT_EQ(main.shape, (std::vector<int64_t>{int64_t(ref_windows.size() / 3), 16}));
  expect_close(vectors(), e_.floats("chunk"), "window vectors");
  const auto w = read_npy_independently(dir_.path() / "out.windows.npy");
  EXPECT_EQ(w.descr, "<i8");
  EXPECT_EQ(w.shape, (std::vector<int64_t>{int64_t(ref_windows.size() / 3), 3}));
  EXPECT_EQ(w.values<int64_t>(), std::vector<int64_t>(ref_windows.begin(), ref_windows.end()));
  const auto manifest = nlohmann::json::parse(slurp(dir_.path() / "out.manifest.json"));
  EXPECT_EQ(manifest["chunk"]["windows"], ref_windows.size() / 3);
}

TEST_F(EmbeddingOptions, TheTokenizerFromTheModelFolder) {
  // vocab.txt + tokenizer_config.json (do_lower_case false): the same tokenizer as the
  // explicit section, so the same vectors.
  run({}, pipeline("", "", "{from_model: true}"));
  expect_close(vectors(), e_.floats("default"), "tokenizer.from_model");
}

TEST_F(EmbeddingOptions, TheTokenizerFromTheFoldersTokenizerJsonAlone) {
  // A copy of the folder whose only tokenizer file is a tokenizer.json (made from its vocab.txt
  // by HF tokenizers, tests/model/make_tokenizer_json.mjs, which checks HF's ids against the
  // fixture's): from_model picks tokenizer-wordpiece through it, and the vectors are the
  // reference's.
  const fs::path folder = dir_.path() / "json-only";
  fs::copy(hf_fixture("bert-st"), folder, fs::copy_options::recursive);
  fs::remove(folder / "vocab.txt");
  fs::remove(folder / "tokenizer_config.json");
  fs::copy_file(fs::path(QKV_SOURCE_DIR) / "tests/model/tokenizer_json/bert-st/tokenizer.json",
                folder / "tokenizer.json");
  const auto r = run({{"model.path", folder.string()}}, pipeline("", "", "{from_model: true}"));
  EXPECT_EQ(r.documents, 5u);
  EXPECT_EQ(r.tokens, e_.ints("default_ids").size());
  expect_close(vectors(), e_.floats("default"), "tokenizer.from_model via tokenizer.json");
}

TEST_F(EmbeddingOptions, PrefixOffsetsStayOnTheDocumentsBytes) {
  std::vector<int32_t> offsets;
  for (const auto& record : ids_records("input: {format: jsonl, field: text, prefix: 'Search: '}",
                                        "add_special: false", "output: {offsets: true}"))
    for (const auto& pair : record.at("offsets"))
      for (const auto& o : pair) offsets.push_back(o.get<int32_t>());
  EXPECT_EQ(offsets, e_.ints("prefix_offsets"));
}

TEST_F(EmbeddingOptions, TheShippedEmbedPipelinesOnTheirTinyFolder) {
  // embed-minilm: tokenizer.from_model, the folder's pooling, Normalize and default prompt;
  // embed-e5: input.prefix "query: " (the same text as that prompt), pooled_mean, normalize.
  env_.pipelines_dir = fs::path(QKV_SOURCE_DIR) / "configs/pipelines";
  for (const char* name : {"embed-minilm", "embed-e5"}) {
    SCOPED_TRACE(name);
    run({}, name);
    expect_close(vectors(), e_.floats("default"), name);
  }
}

TEST_F(EmbeddingOptions, MaxLengthFromTheLeftOnAnIdsPipeline) {
  std::vector<int32_t> ids;
  for (const auto& record : ids_records("input: {format: jsonl, field: text}",
                                        "max_length: 5, truncation_side: left", ""))
    for (const auto& id : record) ids.push_back(id.get<int32_t>());
  EXPECT_EQ(ids, e_.ints("max_length_left_ids"));
}

TEST_F(EmbeddingOptions, BadValuesAreNamed) {
  expect_error({{"model.prompt_name", "title"}},
               "model.prompt_name: 'title' is not a "
               "prompt");
  expect_error({{"model.prompt_name", "title"}}, "(prompts: passage, query)");
  expect_error({{"model.prompt_name", "passage"}, {"input.prefix", "x"}},
               "expected either input.prefix or model.prompt_name");
  expect_error({{"tokenizer.truncation_side", "middle"}}, "tokenizer.truncation_side");
  expect_error({{"model.chunk", "{tokens: 8, overlap: 8}"}},
               "expected fewer than model.chunk.tokens (8), got 8");
  expect_error({{"model.chunk", "{tokens: 8}"}, {"model.output", "hidden"}},
               "expected a pooled model.output with model.chunk");
  expect_error({{"model.chunk", "{tokens: 40}"}},
               "model.chunk.tokens: 40 is more than the model's 16 tokens");
  expect_error({{"model.chunk", "{tokens: 3, overlap: 1}"}}, "leaves no text");
  expect_error({}, "expected no tokenizer.plugin with tokenizer.from_model: true",
               pipeline("", "", "{from_model: true, plugin: tokenizer-bpe}"));
  // A folder without tokenizer files.
  const fs::path bare = dir_.path() / "bare";
  fs::create_directories(bare);
  for (const char* f : {"config.json", "model.safetensors"})
    fs::copy_file(hf_fixture("bert-st") / f, bare / f);
  expect_error({{"model.path", bare.string()}},
               "bare: tokenizer.from_model: the model folder has no tokenizer files",
               pipeline("", "", "{from_model: true}"));
  qkv::test::spit(bare / "tokenizer.json", R"({"model": {"type": "WordLevel"}})");
  expect_error({{"model.path", bare.string()}},
               "bare/tokenizer.json: field 'model.type': expected WordPiece, BPE or Unigram "
               "(tokenizer.from_model), got 'WordLevel'",
               pipeline("", "", "{from_model: true}"));
}

TEST_F(EmbeddingOptions, PoolingWithoutThePromptsTokens) {
  // A copy of the folder whose Pooling module says include_prompt: false (INSTRUCTOR-style):
  // the default prompt "query: " is tokenized with the text, and its prompt_length first
  // tokens ([CLS] query :) are left out of mean and max pooling, as sentence-transformers does.
  const fs::path instructor = dir_.path() / "instructor";
  fs::copy(hf_fixture("bert-st"), instructor, fs::copy_options::recursive);
  auto pooling = nlohmann::json::parse(slurp(instructor / "1_Pooling/config.json"));
  pooling["include_prompt"] = false;
  qkv::test::spit(instructor / "1_Pooling/config.json", pooling.dump());
  ASSERT_EQ(e_.ints("no_prompt_length"), std::vector<int32_t>{3});
  const config::Overrides folder{{"model.path", instructor.string()}};
  auto with = [&](config::Overrides more) {
    config::Overrides all = folder;
    all.insert(all.end(), more.begin(), more.end());
    return all;
  };
  run(folder);
  expect_close(vectors(), e_.floats("no_prompt_mean"), "mean without the prompt");
  // Not the vectors with the prompt pooled: the option did something.
  const auto p = vectors(), q = e_.floats("default");
  float diff = 0;
  for (size_t i = 0; i < p.size(); ++i) diff = std::max(diff, std::abs(p[i] - q[i]));
  EXPECT_GT(diff, 1e-2f);
  run(with({{"model.output", "pooled_max"}}));
  expect_close(vectors(), e_.floats("no_prompt_max"), "max without the prompt");
  run(with({{"model.output", "pooled_last"}}));
  expect_close(vectors(), e_.floats("no_prompt_last"), "last token");
  // Left truncation cuts the prompt of the long document; the first 3 tokens still go.
  run(with({{"tokenizer.truncation_side", "left"}}));
  expect_close(vectors(), e_.floats("no_prompt_mean_left"), "mean without the prompt, left");
  expect_error(with({{"model.chunk", "{tokens: 8, overlap: 2}"}}),
               "Pooling include_prompt: false is not supported (the prompt is in the first "
               "window only)");
}

}  // namespace
}  // namespace qkv::model::testing
