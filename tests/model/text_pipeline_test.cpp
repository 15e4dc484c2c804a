// XLM-R and Marian from text: the shipped embed-xlmr and seq2seq-marian pipelines and
// tokenize-only runs of their tokenizers (tokenizer-sentencepiece with id_map: fairseq /
// vocab_json), through pipeline::run_job with the real plugins, against
// tests/model/make_hf_fixtures.py's text_expected.safetensors: ids from python3-sentencepiece
// with XLMRobertaTokenizer's / MarianTokenizer's id rules, and the float64 forward on those ids.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "../pipeline/test_support.hpp"
#include "hf_support.hpp"
#include "model/stage.hpp"
#include "pipeline/run_job.hpp"
#include "test_support.hpp"

namespace qkv::model::testing {
namespace {

namespace fs = std::filesystem;
using qkv::test::read_npy_independently;
using qkv::test::slurp;

// The ids of each document of `ids`, cut at the offsets `cu`.
std::vector<std::vector<int32_t>> documents(const std::vector<int32_t>& ids,
                                            const std::vector<int32_t>& cu) {
  std::vector<std::vector<int32_t>> out;
  for (size_t d = 0; d + 1 < cu.size(); ++d)
    out.emplace_back(ids.begin() + cu[d], ids.begin() + cu[d + 1]);
  return out;
}

class TextPipelines : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.pipelines_dir = fs::path(QKV_SOURCE_DIR) / "configs/pipelines";
    env_.plugins = &bundled_plugins();
    env_.model_stage_factory = make_model_stage;
  }

  pipeline::JobResult run(const std::string& pipeline, const fs::path& input,
                          const std::string& out, config::Overrides sets = {}) {
    pipeline::JobSpec s;
    s.pipeline = pipeline;
    s.inputs = {input.string()};
    s.output = (dir_.path() / out).string();
    s.overrides = std::move(sets);
    s.threads = 2;
    pipeline::JobProgress progress;
    pipeline::CancelFlag cancel;
    return pipeline::run_job(s, env_, progress, cancel);
  }

  // The ids a tokenize-only pipeline with `tokenizer` writes for `field` of `folder`'s texts.
  std::vector<std::vector<int32_t>> ids(const std::string& folder, const std::string& field,
                                        const std::string& tokenizer) {
    const fs::path f = dir_.path() / "ids.yaml";
    std::ofstream(f) << "input: {format: jsonl, field: " << field << "}\ntokenizer: " << tokenizer
                     << "\n";
    run(f.string(), hf_fixture(folder) / "texts.jsonl", "ids.jsonl");
    std::vector<std::vector<int32_t>> out;
    for (const auto& line : qkv::test::split_lines(slurp(dir_.path() / "ids.jsonl")))
      out.push_back(nlohmann::json::parse(line).get<std::vector<int32_t>>());
    return out;
  }

  std::vector<float> npy(const std::string& out) const {
    const auto f = read_npy_independently(dir_.path() / out);
    EXPECT_EQ(f.descr, "<f4");
    return f.values<float>();
  }

  static std::string sentencepiece(const std::string& config) {
    return "{plugin: tokenizer-sentencepiece, add_special: true, config: {" + config + "}}";
  }

  qkv::test::TempDir dir_;
  pipeline::RunEnvironment env_;
};

TEST_F(TextPipelines, XlmrIdsAreXlmRobertaTokenizers) {
  const HfExpected e("xlmr-st", "text_expected.safetensors");
  const auto want = documents(e.ints("ids"), e.ints("cu"));
  const std::string spm = hf_fixture("xlmr-st").string() + "/sentencepiece.bpe.model";
  EXPECT_EQ(ids("xlmr-st", "text", sentencepiece("model: " + spm + ", id_map: fairseq")), want);
  // The .model's own numbering is another one (the test can fail).
  EXPECT_NE(ids("xlmr-st", "text", sentencepiece("model: " + spm)), want);
}

TEST_F(TextPipelines, EmbedXlmrFromTextEqualsTheForwardOnThoseIds) {
  const HfExpected e("xlmr-st", "text_expected.safetensors");
  const auto r = run("embed-xlmr", hf_fixture("xlmr-st") / "texts.jsonl", "x.npy");
  EXPECT_EQ(r.documents, 5u);
  EXPECT_EQ(r.truncated, 1u);  // the last text is cut to max_seq_length 24, </s> kept
  EXPECT_EQ(r.tokens, e.ints("model_ids").size());
  EXPECT_LT(r.tokens, e.ints("ids").size());
  expect_close(npy("x.npy"), e.floats("normalized_mean"), "embed-xlmr from text");
}

TEST_F(TextPipelines, MarianIdsAreMarianTokenizers) {
  const HfExpected e("marian-tiny", "text_expected.safetensors");
  const std::string dir = hf_fixture("marian-tiny").string();
  const std::string tok =
      sentencepiece("model: " + dir + "/source.spm, vocab_json: " + dir + "/vocab.json");
  EXPECT_EQ(ids("marian-tiny", "src", tok), documents(e.ints("src_ids"), e.ints("src_cu")));
  // text_target: target.spm, another model than source.spm (its ids would differ)
  const std::string target =
      sentencepiece("model: " + dir + "/target.spm, vocab_json: " + dir + "/vocab.json");
  EXPECT_EQ(ids("marian-tiny", "tgt", target), documents(e.ints("tgt_ids"), e.ints("tgt_cu")));
  EXPECT_NE(ids("marian-tiny", "tgt", tok), documents(e.ints("tgt_ids"), e.ints("tgt_cu")));
  // source.spm's own numbering is another one (the test can fail).
  EXPECT_NE(ids("marian-tiny", "src", sentencepiece("model: " + dir + "/source.spm")),
            documents(e.ints("src_ids"), e.ints("src_cu")));
}

TEST_F(TextPipelines, Seq2SeqMarianFromTextEqualsTheForwardOnThoseIds) {
  const HfExpected e("marian-tiny", "text_expected.safetensors");
  const auto r = run("seq2seq-marian", hf_fixture("marian-tiny") / "texts.jsonl", "m.npy");
  EXPECT_EQ(r.documents, 3u);
  expect_close(npy("m.npy"), e.floats("shifted_hidden"), "seq2seq-marian from text");
}

TEST_F(TextPipelines, GenerateMarianTranslatesAsGreedySearchAndMarianTokenizerDecode) {
  const auto want =
      nlohmann::json::parse(slurp(hf_fixture("marian-tiny") / "translate_expected.json"))["cases"];
  run("generate-marian", hf_fixture("marian-tiny") / "texts.jsonl", "t.jsonl");
  const auto lines = qkv::test::split_lines(slurp(dir_.path() / "t.jsonl"));
  ASSERT_EQ(lines.size(), want.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE(i);
    const auto got = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(got["ids"], want[i]["ids"]);
    EXPECT_EQ(got["text"], want[i]["text"]);
    EXPECT_EQ(got["finish_reason"], want[i]["finish_reason"]);
  }
}

TEST_F(TextPipelines, FromModelPicksTheFoldersSentencePieceTokenizer) {
  // sentencepiece.bpe.model -> id_map: fairseq; source.spm + vocab.json -> vocab_json, and
  // target.spm for tgt.
  const fs::path xlmr = dir_.path() / "xlmr.yaml", marian = dir_.path() / "marian.yaml";
  std::ofstream(xlmr) << "input: {format: jsonl, field: text}\ntokenizer: {from_model: true}\n"
                      << "model: {path: " << hf_fixture("xlmr-st").string()
                      << ", output: pooled}\n";
  std::ofstream(marian) << "input: {format: jsonl, fields: {src: src, tgt: tgt}}\n"
                        << "tokenizer: {from_model: true}\nmodel: {path: "
                        << hf_fixture("marian-tiny").string() << ", output: hidden}\n";
  run(xlmr.string(), hf_fixture("xlmr-st") / "texts.jsonl", "x.npy");
  expect_close(npy("x.npy"),
               HfExpected("xlmr-st", "text_expected.safetensors").floats("normalized_mean"),
               "xlm-r, tokenizer from the folder");
  run(marian.string(), hf_fixture("marian-tiny") / "texts.jsonl", "m.npy");
  expect_close(npy("m.npy"),
               HfExpected("marian-tiny", "text_expected.safetensors").floats("shifted_hidden"),
               "marian, tokenizer from the folder");
}

TEST_F(TextPipelines, TargetTokenizerErrorsNameWhatIsWrong) {
  const std::string dir = hf_fixture("marian-tiny").string();
  const std::string side = "{plugin: tokenizer-sentencepiece, config: {model: " + dir +
                           "/target.spm, vocab_json: " + dir + "/vocab.json}}";
  const std::string source = "tokenizer: {plugin: tokenizer-sentencepiece, config: {model: " + dir +
                             "/source.spm, vocab_json: " + dir + "/vocab.json}}\n";
  const std::string seq2seq = "input: {format: jsonl, fields: {src: src, tgt: tgt}}\n" + source +
                              "model: {path: " + dir + ", output: hidden}\n";
  auto message_of = [&](const std::string& yaml) -> std::string {
    const fs::path f = dir_.path() / "bad.yaml";
    std::ofstream(f) << yaml;
    try {
      run(f.string(), hf_fixture("marian-tiny") / "texts.jsonl", "bad.npy");
    } catch (const std::exception& e) {
      return e.what();
    }
    return "ran";
  };
  auto expect_message = [&](const std::string& yaml, const std::string& needle) {
    const std::string m = message_of(yaml);
    EXPECT_NE(m.find(needle), std::string::npos) << "message: " << m << "\nwanted: " << needle;
  };
  // nothing reads a target side without a decoder's field or generation
  expect_message(
      "input: {format: jsonl, field: src}\n" + source + "target_tokenizer: " + side + "\n",
      "target_tokenizer: expected an encoder-decoder pipeline");
  expect_message(seq2seq + "target_tokenizer: {from_model: true}\n",
                 "target_tokenizer.from_model: expected a plugin");
  // marian-codes/vocab.json has two entries more: the model has one vocabulary
  expect_message(
      seq2seq + "target_tokenizer: {plugin: tokenizer-sentencepiece, config: {model: " + dir +
          "/target.spm, vocab_json: " + hf_fixture("marian-codes").string() + "/vocab.json}}\n",
      "target_tokenizer: vocab_size 68 differs from the tokenizer's 66");
  EXPECT_EQ(message_of(seq2seq + "target_tokenizer: " + side + "\n"), "ran");
}

}  // namespace
}  // namespace qkv::model::testing
