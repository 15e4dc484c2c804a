// pipeline/output_format.hpp: the output format follows the extension unless output.format is
// given, contradictions are errors naming the output, and the training separator's default
// comes from the vocabulary.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "pipeline/output_format.hpp"
#include "pipeline/run_job.hpp"
#include "test_support.hpp"

namespace qkv::pipeline::detail {
namespace {

namespace fs = std::filesystem;
using config::OutputFormat;

class FakeVocabulary : public pipeline::Tokenizer {
 public:
  FakeVocabulary(int32_t eos, int32_t sep) : eos_(eos), sep_(sep) {}
  void encode(std::string_view, std::vector<int32_t>&, std::vector<uint32_t>*) const override {}
  void decode(std::span<const int32_t>, std::string&) const override {}
  uint32_t vocab_size() const override { return 1000; }
  int32_t eos_id() const override { return eos_; }
  int32_t sep_id() const override { return sep_; }
  int32_t token_id(std::string_view t) const override { return t == "<|sep|>" ? 7 : -1; }

 private:
  int32_t eos_, sep_;
};

class OutputFormatTest : public ::testing::Test {
 protected:
  config::PipelineConfig load(const std::string& extra, config::Overrides sets = {}) {
    const fs::path p = dir_.path() / "p.yaml";
    std::ofstream(p) << "tokenizer: {plugin: tokenizer-bpe}\n" << extra;
    return config::load_pipeline_config(p, sets);
  }
  std::string error_of(const config::PipelineConfig& p, const std::string& output) {
    try {
      output_format_for(p, output);
    } catch (const pipeline::JobFailed& e) {
      return e.what();
    }
    return "";
  }
  test::TempDir dir_;
};

// `qkvd run -o -`: stdout takes JSON lines only; another explicit format says to give a file.
TEST_F(OutputFormatTest, StdoutIsJsonlOnly) {
  EXPECT_EQ(output_format_for(load(""), "-"), OutputFormat::jsonl);
  EXPECT_EQ(output_format_for(load("output: {format: jsonl}\n"), "-"), OutputFormat::jsonl);
  EXPECT_EQ(error_of(load("output: {format: bin}\n"), "-"),
            "-o - writes ids jsonl (or generation jsonl) to stdout, but pipeline p sets "
            "output.format: bin; give -o FILE");
  EXPECT_NE(error_of(load("output: {format: megatron}\n"), "-").find("output.format: megatron"),
            std::string::npos);
}

TEST_F(OutputFormatTest, TheExtensionDecidesUnlessOutputFormatIsGiven) {
  auto p = load("");
  EXPECT_EQ(output_format_for(p, "/d/train.bin"), OutputFormat::bin);
  EXPECT_EQ(output_format_for(p, "/d/ids.jsonl"), OutputFormat::jsonl);
  EXPECT_EQ(error_of(p, "/d/ids.txt"),
            "output /d/ids.txt: cannot tell the format from the extension '.txt'; use .jsonl "
            "(ids), .bin (training ids) or .npy (model outputs), or set output.format");
  EXPECT_EQ(error_of(p, "/d/v.npy"),
            "output /d/v.npy: .npy holds model outputs, but pipeline p has no model: use .jsonl "
            "or .bin");

  auto explicit_jsonl = load("output: {format: jsonl}\n");
  EXPECT_EQ(output_format_for(explicit_jsonl, "/d/ids.txt"), OutputFormat::jsonl);
  EXPECT_EQ(error_of(explicit_jsonl, "/d/train.bin"),
            "output /d/train.bin: the extension says bin, but pipeline p sets output.format: "
            "jsonl; rename the output or change output.format");

  auto megatron = load("output: {format: megatron}\n");
  EXPECT_EQ(output_format_for(megatron, "/d/corpus.bin"), OutputFormat::megatron);
  EXPECT_NE(error_of(megatron, "/d/corpus").find("name the output *.bin"), std::string::npos);

  auto offsets = load("output: {offsets: true}\n");
  EXPECT_EQ(error_of(offsets, "/d/t.bin"),
            "output /d/t.bin: output.offsets are written only to .jsonl outputs");
  auto fields = load("input:\n  fields: {q: query, d: doc}\n");
  EXPECT_NE(error_of(fields, "/d/t.bin").find("reads several fields"), std::string::npos);
}

TEST_F(OutputFormatTest, SeparatorDefaultsToEndOfTextThenSep) {
  auto p = load("");
  EXPECT_EQ(document_separator(p, FakeVocabulary(50256, -1)), 50256);
  EXPECT_EQ(document_separator(p, FakeVocabulary(-1, 102)), 102);  // BERT: [SEP]
  EXPECT_EQ(document_separator(p, FakeVocabulary(-1, -1)), std::nullopt);
  EXPECT_EQ(document_separator(load("output: {separator: none}\n"), FakeVocabulary(1, 2)),
            std::nullopt);
  EXPECT_EQ(document_separator(load("output: {separator: 42}\n"), FakeVocabulary(1, 2)), 42);
  EXPECT_EQ(document_separator(load("output: {separator: <|sep|>}\n"), FakeVocabulary(1, 2)), 7);
  EXPECT_THROW(document_separator(load("output: {separator: 1000}\n"), FakeVocabulary(1, 2)),
               pipeline::JobFailed);
  try {
    document_separator(load("output: {separator: <|nope|>}\n"), FakeVocabulary(1, 2));
    ADD_FAILURE() << "an unknown token is an error";
  } catch (const pipeline::JobFailed& e) {
    EXPECT_STREQ(e.what(),
                 "pipeline p: output.separator '<|nope|>' is not a token of the vocabulary");
  }
}

}  // namespace
}  // namespace qkv::pipeline::detail
