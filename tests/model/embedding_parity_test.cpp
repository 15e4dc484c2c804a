// Encoder embedding models in HF layout against make_hf_fixtures.py (modeling_roberta.py on a
// padded batch; sentence-transformers Pooling / Normalize): RoBERTa's padding_idx + 1 position
// ids on padding-free batches, every pooling, normalization, Matryoshka dimensions, and the
// sentence-transformers folder convention, through the ModelStage as embed-* pipelines run it.
#include "model/error.hpp"
#include "model/heads.hpp"
#include "model/st_folder.hpp"
#include "hf_support.hpp"
#include "test_support.hpp"

using namespace qkv;
using namespace qkv::model;
using namespace qkv::model::testing;

namespace {

pipeline::TokenBatch batch_of(const HfExpected& e) {
  pipeline::TokenBatch b;
  b.ids.push_back(e.ints("ids"));
  b.cu_seqlens.push_back(e.ints("cu"));
  return b;
}

std::vector<float> stage_values(const std::string& fixture_name, const std::string& extra) {
  const HfExpected e(fixture_name);
  const auto out =
      hf_stage("{path: " + hf_fixture(fixture_name).string() + extra + "}")->run(batch_of(e));
  return out.tensors.at(0).values;
}

TEST(Roberta, HiddenAndEveryPoolingMatchTheHfForward) {
  const auto m = load_plugged(hf_fixture("roberta-mixed"));
  EXPECT_EQ(m.transformer->config().position_offset, 2u);  // pad_token_id 1 + 1
  const HfExpected e("roberta-mixed");
  const auto ids = e.ints("ids"), cu = e.ints("cu");
  const NaiveAttention att;
  const auto h = m.transformer->encode({ids, cu}, m.components(att));
  expect_close(h, e.floats("hidden"), "hidden");
  const uint32_t d = m.transformer->config().d_model;
  expect_close(pool_cls(h, d, cu), e.floats("pooled_cls"), "pooled_cls");
  expect_close(pool_mean(h, d, cu), e.floats("pooled_mean"), "pooled_mean");
  expect_close(pool_max(h, d, cu), e.floats("pooled_max"), "pooled_max");
  expect_close(pool_last(h, d, cu), e.floats("pooled_last"), "pooled_last");
}

TEST(Roberta, PositionsStartAfterPaddingIdx) {
  // Without the offset (positions from row 0, as BERT) the same weights are off.
  auto c = load_config(hf_fixture("roberta-mixed"));
  c.position_offset = 0;
  const auto st = hf_fixture("roberta-mixed") / "model.safetensors";
  const PluggedModel m(load_model(c, st), st);
  const HfExpected e("roberta-mixed");
  const auto ids = e.ints("ids"), cu = e.ints("cu");
  const NaiveAttention att;
  const auto h = m.transformer->encode({ids, cu}, m.components(att));
  const auto ref = e.floats("hidden");
  double diff = 0;
  for (size_t i = 0; i < h.size(); ++i) diff = std::max(diff, double(std::abs(h[i] - ref[i])));
  EXPECT_GT(diff, 1e-2);
}

TEST(Roberta, StageOutputsAndTheirLimit) {
  const HfExpected e("roberta-mixed");
  EXPECT_EQ(hf_stage("{path: " + hf_fixture("roberta-mixed").string() + "}")->max_tokens(0),
            32u);  // 34 rows - offset 2: the 32-token document is the longest that fits
  for (const char* p : {"pooled_cls", "pooled_mean", "pooled_max", "pooled_last"}) {
    SCOPED_TRACE(p);
    for (const char* att : {"attention-flash", "attention-reference"})
      expect_close(stage_values("roberta-mixed", std::string(", output: ") + p +
                                                     ", attention: {plugin: " + att + "}"),
                   e.floats(p), p);
  }
  expect_close(stage_values("roberta-mixed", ", output: hidden"), e.floats("hidden"), "hidden");
  expect_close(stage_values("roberta-mixed", ", output: pooled_mean, normalize: true"),
               e.floats("normalized_mean"), "normalized");
  expect_close(
      stage_values("roberta-mixed", ", output: pooled_mean, normalize: true, dimensions: 8"),
      e.floats("mean_dims8"), "Matryoshka 8");
}

TEST(SentenceTransformers, FolderIsRead) {
  const auto f = read_sentence_transformers(hf_fixture("xlmr-st"));
  EXPECT_TRUE(f.present);
  EXPECT_EQ(f.pooling, Pooling::mean);
  EXPECT_TRUE(f.normalize);
  EXPECT_EQ(f.max_seq_length, 24u);
  EXPECT_EQ(f.prompts.at("query"), "query: ");
  EXPECT_FALSE(read_sentence_transformers(hf_fixture("roberta-mixed")).present);
}

TEST(SentenceTransformers, PooledIsTheFoldersPoolingAndNormalize) {
  const HfExpected e("xlmr-st");
  const auto dir = hf_fixture("xlmr-st").string();
  EXPECT_EQ(hf_stage("{path: " + dir + "}")->max_tokens(0), 24u);  // max_seq_length < 38
  expect_close(stage_values("xlmr-st", ", output: pooled"), e.floats("normalized_mean"),
               "pooled (mean + Normalize)");
  // normalize: false overrides the folder's Normalize module; an explicit pooled_* its pooling.
  expect_close(stage_values("xlmr-st", ", output: pooled, normalize: false"),
               e.floats("pooled_mean"), "pooled, not normalized");
  expect_close(stage_values("xlmr-st", ", output: pooled_cls, normalize: false"),
               e.floats("pooled_cls"), "pooled_cls override");
  expect_close(stage_values("xlmr-st", ", output: pooled, dimensions: 8"), e.floats("mean_dims8"),
               "Matryoshka 8, renormalized");
}

TEST(SentenceTransformers, PooledWithoutAFolderIsRefused) {
  try {
    hf_stage("{path: " + hf_fixture("roberta-mixed").string() + ", output: pooled}");
    FAIL() << "built";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("1_Pooling/config.json"), std::string::npos) << e.what();
  }
}

TEST(SentenceTransformers, UnsupportedPoolingNamesFileAndKey) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("qkv-st-" + std::to_string(::getpid()));
  fs::create_directories(dir / "1_Pooling");
  std::ofstream(dir / "modules.json")
      << R"([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])";
  std::ofstream(dir / "1_Pooling/config.json")
      << R"({"pooling_mode_mean_tokens": false, "pooling_mode_weightedmean_tokens": true})";
  try {
    read_sentence_transformers(dir);
    ADD_FAILURE() << "read";
  } catch (const ModelError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("1_Pooling/config.json"), std::string::npos) << m;
    EXPECT_NE(m.find("pooling_mode_weightedmean_tokens"), std::string::npos) << m;
  }
  std::ofstream(dir / "1_Pooling/config.json")
      << R"({"pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": true})";
  try {
    read_sentence_transformers(dir);
    ADD_FAILURE() << "read";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("only one pooling mode"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
