// Traceability (issue 12 item 6) with the real tokenizer plugins and the shipped pipelines: the
// manifest records each input's document range and the tokenizer's identity (plugin, version,
// sha256 of every file it loaded, checked against sha256sum), and --decode refuses ids whose
// manifest names another tokenizer or vocabulary, with a message that says which and what to do.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "host/plugin_registry.hpp"
#include "pipeline/run_job.hpp"
#include "test_support.hpp"

namespace {

using namespace qkv;
using namespace qkv::test;

const fs::path kRoot = QKV_SOURCE_DIR;

// sha256sum's answer: a checksum qkv did not compute.
std::string sha256sum(const fs::path& file) {
  std::string cmd = "sha256sum '" + file.string() + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[65] = {};
  const size_t n = p ? std::fread(buf, 1, 64, p) : 0;
  if (p) ::pclose(p);
  return std::string(buf, n);
}

class Traceability : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_ = std::make_unique<host::PluginRegistry>();
    registry_->load_directory(QKV_PLUGIN_DIR);
  }
  static void TearDownTestSuite() { registry_.reset(); }
  void SetUp() override {
    env_.pipelines_dir = kRoot / "configs/pipelines";
    env_.plugins = registry_.get();
    env_.threads = 2;
    spit(dir_ / "a.jsonl",
         "{\"id\": 1, \"text\": \"one\"}\n{\"text\": \"two\"}\n{\"text\": \"3\"}\n");
    spit(dir_ / "b.jsonl", "{\"text\": \"four\"}\n{\"text\": \"five\"}\n");
  }
  pipeline::JobResult run(const std::string& pipeline, std::vector<std::string> inputs,
                          const fs::path& out, bool decode = false) {
    pipeline::JobSpec s;
    s.pipeline = pipeline;
    s.inputs = std::move(inputs);
    s.output = out.string();
    s.decode = decode;
    pipeline::JobProgress progress;
    pipeline::CancelFlag cancel;
    return pipeline::run_job(s, env_, progress, cancel);
  }
  std::string decode_error(const std::string& pipeline, const fs::path& ids) {
    try {
      run(pipeline, {ids.string()}, dir_ / "text.jsonl", true);
    } catch (const pipeline::JobFailed& e) {
      return e.what();
    }
    return "";
  }

  static std::unique_ptr<host::PluginRegistry> registry_;
  pipeline::RunEnvironment env_;
  TempDir dir_;
};
std::unique_ptr<host::PluginRegistry> Traceability::registry_;

TEST_F(Traceability, ManifestRecordsDocumentRangesAndTokenizerIdentity) {
  run("tokenize-gpt2", {(dir_ / "a.jsonl").string(), (dir_ / "b.jsonl").string()},
      dir_ / "ids.jsonl");
  auto m = nlohmann::json::parse(slurp(dir_ / "ids.manifest.json"));
  ASSERT_EQ(m["inputs"].size(), 2u);
  EXPECT_EQ(m["inputs"][0]["documents"], nlohmann::json::parse("[0, 3]"));
  EXPECT_EQ(m["inputs"][1]["documents"], nlohmann::json::parse("[3, 5]"));
  const auto& t = m["tokenizer"];
  EXPECT_EQ(t["plugin"], "tokenizer-bpe");
  EXPECT_FALSE(t["version"].get<std::string>().empty());
  const fs::path vocab = kRoot / "data/vocab/gpt2";
  ASSERT_TRUE(t["files"].contains("encoder_json")) << t.dump();
  EXPECT_EQ(t["files"]["encoder_json"]["path"], (vocab / "encoder.json").string());
  EXPECT_EQ(t["files"]["encoder_json"]["sha256"], sha256sum(vocab / "encoder.json"));
  EXPECT_EQ(t["files"]["vocab_bpe"]["sha256"], sha256sum(vocab / "vocab.bpe"));
}

// The shipped pipeline with the real plugin: a.jsonl's first record has "id": 1, so
// OUT.ids.jsonl has one line per document in input order, listed in the manifest with the
// checksum sha256sum gives; the ids rows themselves stay bare arrays.
TEST_F(Traceability, IdsFileListedInTheManifest) {
  run("tokenize-gpt2", {(dir_ / "a.jsonl").string(), (dir_ / "b.jsonl").string()},
      dir_ / "ids.jsonl");
  EXPECT_EQ(slurp(dir_ / "ids.ids.jsonl"), "1\nnull\nnull\nnull\nnull\n");
  EXPECT_EQ(slurp(dir_ / "ids.jsonl").substr(0, 1), "[");
  auto m = nlohmann::json::parse(slurp(dir_ / "ids.manifest.json"));
  EXPECT_EQ(m["id_field"], "id");
  EXPECT_EQ(m["documents_with_id"], 1);
  nlohmann::json entry;
  for (const auto& o : m["outputs"])
    if (o["path"] == (dir_ / "ids.ids.jsonl").string()) entry = o;
  ASSERT_TRUE(entry.is_object()) << m["outputs"].dump();
  EXPECT_EQ(entry["sha256"], sha256sum(dir_ / "ids.ids.jsonl"));
  EXPECT_EQ(entry["bytes"], fs::file_size(dir_ / "ids.ids.jsonl"));
}

TEST_F(Traceability, DecodeChecksTheTokenizerThatMadeTheIds) {
  run("tokenize-gpt2", {(dir_ / "a.jsonl").string()}, dir_ / "ids.jsonl");
  // The same tokenizer decodes, and records its identity too.
  run("tokenize-gpt2", {(dir_ / "ids.jsonl").string()}, dir_ / "text.jsonl", true);
  EXPECT_EQ(slurp(dir_ / "text.jsonl"),
            "{\"text\":\"one\"}\n{\"text\":\"two\"}\n{\"text\":\"3\"}\n");
  EXPECT_EQ(nlohmann::json::parse(slurp(dir_ / "text.manifest.json"))["tokenizer"]["plugin"],
            "tokenizer-bpe");

  // Another plugin: refused, naming both and the pipeline that made the ids.
  const std::string ids = (dir_ / "ids.jsonl").string();
  EXPECT_EQ(decode_error("tokenize-bert-base-uncased", dir_ / "ids.jsonl"),
            ids +
                ": its ids were made by tokenizer tokenizer-bpe (its manifest), this pipeline "
                "decodes with tokenizer-wordpiece; decode with the pipeline that made them "
                "(manifest \"pipeline\": \"tokenize-gpt2\"), or move the manifest away to "
                "decode anyway");
  // The same plugin with another vocabulary (cl100k's ranks): refused, naming the file.
  const std::string e = decode_error("tokenize-cl100k", dir_ / "ids.jsonl");
  EXPECT_NE(e.find(ids + ": its ids were made with ranks absent, this pipeline's ranks is " +
                   (kRoot / "data/vocab/cl100k_base.tiktoken").string() + " (sha256 " +
                   sha256sum(kRoot / "data/vocab/cl100k_base.tiktoken").substr(0, 12) + "...)"),
            std::string::npos)
      << e;
  // A vocabulary file that changed since: refused with both checksums' prefixes.
  auto m = nlohmann::json::parse(slurp(dir_ / "ids.manifest.json"));
  m["tokenizer"]["files"]["vocab_bpe"]["sha256"] = std::string(64, '0');
  spit(dir_ / "ids.manifest.json", m.dump());
  EXPECT_NE(decode_error("tokenize-gpt2", dir_ / "ids.jsonl").find("(sha256 000000000000...)"),
            std::string::npos);
  // Without the manifest there is nothing to check: decoded as before.
  fs::remove(dir_ / "ids.manifest.json");
  EXPECT_EQ(decode_error("tokenize-cl100k", dir_ / "ids.jsonl"), "");
}

}  // namespace
