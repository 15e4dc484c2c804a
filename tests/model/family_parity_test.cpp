// HF-layout model families against the independent float64 forward passes of
// tests/model/make_hf_fixtures.py (which follows HF's modeling_llama.py / modeling_qwen2.py /
// modeling_mistral.py): hidden states and LM scores to the parity bound, f32 / f16 / bf16
// checkpoints; and the config.json refusals that name the file and the key.
#include <tbb/task_arena.h>

#include "model/config.hpp"
#include "model/error.hpp"
#include "model/heads.hpp"
#include "model/hf_bart.hpp"
#include "plugin_support.hpp"
#include "hf_support.hpp"
#include "test_support.hpp"

using namespace qkv::model;
using namespace qkv::model::testing;

namespace {

const NaiveAttention kAttention;

std::vector<float> decode(const PluggedModel& m, const HfExpected& e) {
  std::vector<float> h;
  tbb::task_arena(2).execute([&] {
    const auto ids = e.ints("ids"), cu = e.ints("cu");
    h = m.transformer->decode({ids, cu}, m.components(kAttention));
  });
  return h;
}

PluggedModel load_with(const std::string& name, ModelConfig c) {
  const auto dir = hf_fixture(name);
  return PluggedModel(load_model(c, dir / "model.safetensors"), dir / "model.safetensors");
}

class FamilyParity : public ::testing::TestWithParam<std::string> {};

TEST_P(FamilyParity, MatchesTheHfForward) {
  const auto m = load_plugged(hf_fixture(GetParam()));
  const HfExpected e(GetParam());
  const auto hidden = decode(m, e);
  expect_close(hidden, e.floats("hidden"), "hidden");
  const auto ids = e.ints("ids"), cu = e.ints("cu");
  const auto& head = m.transformer->weights().lm_head;
  const auto s = next_token_scores(m.transformer->gemm_kernel(), head, hidden, ids, cu);
  expect_close(s.logprobs, e.floats("logprobs"), "logprobs");
  expect_close(s.perplexity, e.floats("perplexity"), "perplexity");
  const auto k = static_cast<uint32_t>(e.cols("topk_ids"));
  const auto top = top_k_logits(m.transformer->gemm_kernel(), head, hidden, k);
  expect_close(top.logits, e.floats("topk_logits"), "topk logits");
  EXPECT_EQ(top.ids, e.ints("topk_ids"));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FamilyParity,
                         ::testing::Values("llama-gqa1", "qwen2-gqa2-bf16", "mistral-mha-f16",
                                           "llama3-scaled"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// Through the ModelStage as a pipeline run builds it, with the shipped attention plugins
// (attention-flash computes grouped-query heads and the sliding window itself).
TEST_P(FamilyParity, ThroughTheStageWithEachAttentionPlugin) {
  const HfExpected e(GetParam());
  qkv::pipeline::TokenBatch batch;
  batch.ids.push_back(e.ints("ids"));
  batch.cu_seqlens.push_back(e.ints("cu"));
  for (const char* att : {"attention-flash", "attention-reference"}) {
    SCOPED_TRACE(att);
    const auto out = hf_stage("{path: " + hf_fixture(GetParam()).string() +
                              ", attention: {plugin: " + att + "}, output: logprobs}")
                         ->run(batch);
    ASSERT_EQ(out.tensors.size(), 2u);
    expect_close(out.tensors[0].values, e.floats("logprobs"), "logprobs");
    expect_close(out.tensors[1].values, e.floats("perplexity"), "perplexity");
  }
}

// The fixtures can fail: without the feature each one exercises, qkv no longer matches.
double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::abs(a[i] - b[i])));
  return m;
}

TEST(FamilyFixtures, SlidingWindowMatters) {
  auto c = load_config(hf_fixture("mistral-mha-f16"));
  ASSERT_EQ(c.sliding_window, 5u);
  c.sliding_window = 0;
  const HfExpected e("mistral-mha-f16");
  EXPECT_GT(max_abs_diff(decode(load_with("mistral-mha-f16", c), e), e.floats("hidden")), 1e-3);
}

TEST(FamilyFixtures, Llama3ScalingMatters) {
  auto c = load_config(hf_fixture("llama3-scaled"));
  ASSERT_EQ(c.rope_scaling.type, "llama3");
  const HfExpected e("llama3-scaled");
  c.rope_scaling.type = "linear";  // same factor, every frequency divided
  EXPECT_GT(max_abs_diff(decode(load_with("llama3-scaled", c), e), e.floats("hidden")), 1e-3);
}

TEST(FamilyFixtures, GroupedQueryAttentionIsRead) {
  const auto c = load_config(hf_fixture("llama-gqa1"));
  EXPECT_EQ(c.heads, 5u);
  EXPECT_EQ(c.kv_head_count(), 1u);
  EXPECT_EQ(c.head_dim(), 12u);
  EXPECT_EQ(c.ffn, Ffn::SwiGlu);
  const auto q = load_config(hf_fixture("qwen2-gqa2-bf16"));
  EXPECT_EQ(q.kv_head_count(), 2u);
  EXPECT_TRUE(q.attention_bias);
  EXPECT_FALSE(q.attn_out_bias);
  EXPECT_TRUE(q.tie_lm_head);
  EXPECT_EQ(q.sliding_window, 0u);  // use_sliding_window: false
}

// ---------------------------------------------------------------- refusals

std::string config_error(const std::string& json) {
  try {
    parse_config(json, "DIR/config.json");
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

std::string llama_json(const std::string& extra) {
  return R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 8,
             "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": 16)" +
         extra + "}";
}

TEST(FamilyConfig, RefusesUnsupportedOptionsNamingFileAndKey) {
  EXPECT_EQ(config_error(llama_json("")), "");
  const auto rope =
      config_error(llama_json(R"(, "rope_scaling": {"type": "dynamic", "factor": 2})"));
  EXPECT_NE(rope.find("DIR/config.json"), std::string::npos) << rope;
  EXPECT_NE(rope.find("rope_scaling.type"), std::string::npos) << rope;
  EXPECT_NE(rope.find("'dynamic'"), std::string::npos) << rope;
  const auto yarn =
      config_error(llama_json(R"(, "rope_scaling": {"rope_type": "yarn", "factor": 4})"));
  EXPECT_NE(yarn.find("rope_scaling.rope_type"), std::string::npos) << yarn;
  const auto act = config_error(llama_json(R"(, "hidden_act": "gelu")"));
  EXPECT_NE(act.find("hidden_act"), std::string::npos) << act;
  EXPECT_NE(act.find("'gelu'"), std::string::npos) << act;
  const auto kv = config_error(llama_json(R"(, "num_key_value_heads": 3)"));
  EXPECT_NE(kv.find("num_key_value_heads"), std::string::npos) << kv;
  const auto l3 =
      config_error(llama_json(R"(, "rope_scaling": {"rope_type": "llama3", "factor": 8})"));
  EXPECT_NE(l3.find("original_max_position_embeddings"), std::string::npos) << l3;
  const auto type = config_error(R"({"model_type": "falcon"})");
  EXPECT_NE(type.find("'falcon'"), std::string::npos) << type;
  EXPECT_NE(type.find("llama"), std::string::npos) << type;
}

TEST(FamilyConfig, MissingOrMisshapenTensorNamesFileTensorAndShapes) {
  auto c = load_config(hf_fixture("llama-gqa1"));
  c.kv_heads = 5;  // the file holds 1 kv head: k_proj is [12, 40]
  try {
    load_model(c, hf_fixture("llama-gqa1") / "model.safetensors");
    FAIL() << "loaded";
  } catch (const ModelError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("model.safetensors"), std::string::npos) << m;
    EXPECT_NE(m.find("model.layers.0.self_attn.k_proj.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("[12, 40]"), std::string::npos) << m;
    EXPECT_NE(m.find("[60, 40]"), std::string::npos) << m;
  }
  c = load_config(hf_fixture("qwen2-gqa2-bf16"));
  c.tie_lm_head = false;  // the file has no lm_head.weight
  try {
    load_model(c, hf_fixture("qwen2-gqa2-bf16") / "model.safetensors");
    FAIL() << "loaded";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("missing tensor 'lm_head.weight'"), std::string::npos)
        << e.what();
  }
}

}  // namespace

namespace {

// BART (modeling_bart.py): encoder output, decoder hidden states and logits with
// final_logits_bias, on the teacher-forced ids as given.
struct BartRun {
  std::vector<float> memory, hidden;
};

BartRun run_bart(const PluggedModel& m, const HfExpected& e) {
  BartRun r;
  const auto sids = e.ints("src_ids"), scu = e.ints("src_cu");
  const auto tids = e.ints("tgt_ids"), tcu = e.ints("tgt_cu");
  const auto b = m.components(kAttention);
  r.memory = m.transformer->encode({sids, scu}, b);
  r.hidden = m.transformer->decode({tids, tcu}, b, r.memory, scu);
  return r;
}

TEST(Bart, MatchesTheHfForward) {
  const auto m = load_plugged(hf_fixture("bart-tiny"));
  const auto& c = m.transformer->config();
  EXPECT_EQ(c.position_offset, 2u);
  EXPECT_EQ(c.decoder_start_token_id, 2u);
  const HfExpected e("bart-tiny");
  const auto r = run_bart(m, e);
  expect_close(r.memory, e.floats("memory"), "encoder output");
  expect_close(r.hidden, e.floats("hidden"), "decoder hidden");
  const auto top =
      top_k_logits(m.transformer->gemm_kernel(), m.transformer->weights().lm_head, r.hidden, 5);
  expect_close(top.logits, e.floats("topk_logits"), "topk logits (+ final_logits_bias)");
  EXPECT_EQ(top.ids, e.ints("topk_ids"));
}

TEST(Bart, FinalLogitsBiasAndScaleMatter) {
  const HfExpected e("bart-tiny");
  {
    const auto m = load_plugged(hf_fixture("bart-tiny"));
    auto head = m.transformer->weights().lm_head;
    ASSERT_EQ(head.b.size(), m.transformer->config().vocab_size);
    head.b.clear();
    const auto r = run_bart(m, e);
    const auto top = top_k_logits(m.transformer->gemm_kernel(), head, r.hidden, 5);
    EXPECT_GT(max_abs_diff(top.logits, e.floats("topk_logits")), 1e-2);
  }
  auto c = load_config(hf_fixture("bart-tiny"));
  c.embed_scale = 1.0f;  // scale_embedding ignored
  const auto r = run_bart(load_with("bart-tiny", c), e);
  EXPECT_GT(max_abs_diff(r.memory, e.floats("memory")), 1e-2);
}

TEST(Bart, RefusesWhatItCannotCompute) {
  const auto err = config_error(
      R"({"model_type": "bart", "vocab_size": 10, "d_model": 8, "encoder_layers": 1,
          "decoder_layers": 1, "encoder_attention_heads": 2, "decoder_attention_heads": 4,
          "encoder_ffn_dim": 16, "max_position_embeddings": 8})");
  EXPECT_NE(err.find("decoder_attention_heads"), std::string::npos) << err;
}

}  // namespace

namespace {

// A seq2seq run is teacher-forced on labels as HF trains BART: the decoder reads tgt shifted
// right after decoder_start_token_id, and row t of every output scores tgt[t].
qkv::pipeline::TokenBatch bart_batch(const HfExpected& e) {
  qkv::pipeline::TokenBatch batch;
  batch.ids = {e.ints("src_ids"), e.ints("tgt_ids")};
  batch.cu_seqlens = {e.ints("src_cu"), e.ints("tgt_cu")};
  return batch;
}

std::unique_ptr<qkv::pipeline::ModelStage> bart_stage(const std::string& output) {
  return hf_stage("{path: " + hf_fixture("bart-tiny").string() +
                  ", attention: {plugin: attention-flash}, output: " + output + "}");
}

TEST(Bart, ShiftTokensRightPerDocument) {
  const std::vector<int32_t> ids = {5, 6, 7, 9, 4, 8}, cu = {0, 3, 3, 4, 6};
  EXPECT_EQ(shift_tokens_right(ids, cu, 2), (std::vector<int32_t>{2, 5, 6, 2, 2, 4}));
}

TEST(Bart, ThroughTheStageWithAttentionFlash) {
  const HfExpected e("bart-tiny");
  const auto batch = bart_batch(e);
  const auto stage = bart_stage("topk, topk: 5");
  EXPECT_EQ(stage->max_tokens(0), 40u);  // max_position_embeddings; the table has 2 more rows
  const auto out = stage->run(batch);
  ASSERT_EQ(out.tensors.size(), 2u);
  expect_close(out.tensors[0].values, e.floats("shifted_topk_logits"), "topk logits");
  const auto ids = e.ints("shifted_topk_ids");
  EXPECT_EQ(out.tensors[1].values, std::vector<float>(ids.begin(), ids.end()));
}

TEST(Bart, SeqToSeqStageFeedsTgtShiftedRight) {
  const HfExpected e("bart-tiny");
  const auto batch = bart_batch(e);
  const auto hidden = bart_stage("hidden")->run(batch);
  ASSERT_EQ(hidden.tensors.size(), 1u);
  expect_close(hidden.tensors[0].values, e.floats("shifted_hidden"), "decoder hidden (shifted)");
  // the shift is visible: tgt fed as given gives other states
  EXPECT_GT(max_abs_diff(hidden.tensors[0].values, e.floats("hidden")), 1e-2);
  EXPECT_EQ(hidden.tensors[0].row_counts, (std::vector<int64_t>{5, 2, 9}));

  const auto scores = bart_stage("logprobs")->run(batch);
  ASSERT_EQ(scores.tensors.size(), 2u);
  expect_close(scores.tensors[0].values, e.floats("shifted_logprobs"), "label log-probs");
  expect_close(scores.tensors[1].values, e.floats("shifted_perplexity"), "perplexity");
}

}  // namespace

namespace {

// Marian (modeling_marian.py): BART's layers, swish, no layernorm_embedding, sinusoidal
// positions in the half layout from positional-sinusoidal, decoder_start = pad_token_id.
TEST(Marian, MatchesTheHfForward) {
  const auto m = load_plugged(hf_fixture("marian-tiny"));
  const auto& c = m.transformer->config();
  EXPECT_EQ(c.positions, Positions::Sinusoidal);
  EXPECT_TRUE(c.sinusoidal_half);
  EXPECT_FALSE(c.embed_norm);
  EXPECT_EQ(c.activation, Activation::Silu);
  EXPECT_EQ(c.decoder_start_token_id, 1u);
  const HfExpected e("marian-tiny");
  const auto r = run_bart(m, e);
  expect_close(r.memory, e.floats("memory"), "encoder output");
  expect_close(r.hidden, e.floats("hidden"), "decoder hidden");
  const auto top =
      top_k_logits(m.transformer->gemm_kernel(), m.transformer->weights().lm_head, r.hidden, 5);
  expect_close(top.logits, e.floats("topk_logits"), "topk logits (+ final_logits_bias)");
  EXPECT_EQ(top.ids, e.ints("topk_ids"));
}

TEST(Marian, TheHalfLayoutMatters) {
  auto c = load_config(hf_fixture("marian-tiny"));
  c.sinusoidal_half = false;  // Vaswani's interleaved sin, cos
  const HfExpected e("marian-tiny");
  const auto r = run_bart(load_with("marian-tiny", c), e);
  EXPECT_GT(max_abs_diff(r.memory, e.floats("memory")), 1e-2);
}

TEST(Marian, SeqToSeqStageFeedsTgtShiftedRight) {
  const HfExpected e("marian-tiny");
  const auto batch = bart_batch(e);
  const auto stage = hf_stage("{path: " + hf_fixture("marian-tiny").string() +
                              ", attention: {plugin: attention-flash}, output: hidden}");
  EXPECT_EQ(stage->max_tokens(0), 64u);
  const auto out = stage->run(batch);
  ASSERT_EQ(out.tensors.size(), 1u);
  expect_close(out.tensors[0].values, e.floats("shifted_hidden"), "decoder hidden (shifted)");
}

TEST(Marian, RefusesSeparateDecoderEmbeddings) {
  const auto err = config_error(
      R"({"model_type": "marian", "vocab_size": 10, "d_model": 8, "encoder_layers": 1,
          "decoder_layers": 1, "encoder_attention_heads": 2, "encoder_ffn_dim": 16,
          "max_position_embeddings": 8, "pad_token_id": 1,
          "share_encoder_decoder_embeddings": false})");
  EXPECT_NE(err.find("share_encoder_decoder_embeddings"), std::string::npos) << err;
}

}  // namespace
