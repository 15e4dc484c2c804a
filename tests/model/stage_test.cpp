// The ModelStage as a pipeline run sees it, with the real attention and positional
// plugins loaded through the host, against the PyTorch fixtures.
#include <unistd.h>

#include <fstream>
#include <functional>

#include "config/diagnostics.hpp"
#include "config/pipeline_config.hpp"
#include "host/plugin_registry.hpp"
#include "model/model_dir.hpp"
#include "model/plugin_positions.hpp"
#include "model/stage.hpp"
#include "test_support.hpp"

using namespace qkv;
using namespace qkv::model::testing;

namespace {

const host::PluginRegistry& plugins() {
  static const host::PluginRegistry r = [] {
    host::PluginRegistry reg;
    reg.load_directory(QKV_PLUGIN_DIR);
    return reg;
  }();
  return r;
}

namespace fs = std::filesystem;

// A folder for pipeline files whose model paths name the fixtures (one link per fixture).
struct PipelineDir {
  fs::path dir = fs::temp_directory_path() / ("qkv-stage-test-" + std::to_string(::getpid()));
  PipelineDir() {
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const auto& e : fs::directory_iterator(fixture("")))
      if (e.is_directory()) fs::create_directory_symlink(e.path(), dir / e.path().filename());
    fs::create_directories(dir / "empty");  // a folder, but no model in it
  }
  ~PipelineDir() { fs::remove_all(dir); }  // removes the links, not the fixtures
};

// The stage of a pipeline whose `model:` section is `yaml`, read by config/ as qkvd reads it.
std::unique_ptr<pipeline::ModelStage> stage(const std::string& yaml,
                                            const host::PluginRegistry& registry = plugins()) {
  static const PipelineDir pipelines;
  const fs::path file = pipelines.dir / "p.yaml";
  std::ofstream(file) << "tokenizer: {plugin: tokenizer-bpe}\nmodel: " << yaml << "\n";
  const auto p = config::load_pipeline_config(file);
  return model::make_model_stage({*p.model, p.dir, p.file.string(), &registry});
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& ex) {
    return ex.what();
  }
  return {};
}

pipeline::TokenBatch batch_of(const Expected& e,
                              std::vector<std::pair<std::string, std::string>> fields) {
  pipeline::TokenBatch b;
  for (auto& [ids, cu] : fields) {
    b.ids.push_back(e.ints(ids));
    b.cu_seqlens.push_back(e.ints(cu));
  }
  return b;
}

TEST(Stage, BertHiddenAndPooled) {
  const Expected e("bert-tiny");
  for (const char* att : {"attention-flash", "attention-reference"}) {
    SCOPED_TRACE(att);
    auto s = stage(std::string("{path: bert-tiny, attention: {plugin: ") + att + "}}");
    EXPECT_EQ(s->max_tokens(0), 64u);
    const auto out = s->run(batch_of(e, {{"ids", "cu"}}));
    ASSERT_EQ(out.tensors.size(), 1u);
    EXPECT_EQ(out.tensors[0].width, 16u);
    EXPECT_EQ(out.tensors[0].row_counts, (std::vector<int64_t>{7, 3, 12, 1}));
    expect_close(out.tensors[0].values, e.floats("hidden"), "hidden");
  }
  const auto pooled =
      stage("{path: bert-tiny, output: pooled_mean}")->run(batch_of(e, {{"ids", "cu"}}));
  EXPECT_TRUE(pooled.tensors[0].per_document);
  expect_close(pooled.tensors[0].values, e.floats("pooled_mean"), "pooled_mean");
}

TEST(Stage, Gpt2LogprobsPerplexityTopk) {
  const Expected e("gpt2-tiny");
  const auto lp = stage("{path: gpt2-tiny, output: logprobs}")->run(batch_of(e, {{"ids", "cu"}}));
  ASSERT_EQ(lp.tensors.size(), 2u);
  expect_close(lp.tensors[0].values, e.floats("logprobs"), "logprobs");
  EXPECT_EQ(lp.tensors[1].suffix, ".perplexity");
  expect_close(lp.tensors[1].values, e.floats("perplexity"), "perplexity");
  const auto top =
      stage("{path: gpt2-tiny, output: topk, topk: 5}")->run(batch_of(e, {{"ids", "cu"}}));
  ASSERT_EQ(top.tensors.size(), 2u);
  expect_close(top.tensors[0].values, e.floats("topk_logits"), "topk");
  const auto ids = e.ints("topk_ids");
  EXPECT_EQ(top.tensors[1].values, std::vector<float>(ids.begin(), ids.end()));
}

TEST(Stage, PositionsFromPlugins) {
  // The learned table through positional-learned (host tensor lookup) gives GPT-2's outputs.
  const Expected g("gpt2-tiny");
  const auto out = stage(
                       "{path: gpt2-tiny, positional: {plugin: positional-learned, config: "
                       "{tensor: wpe.weight}}}")
                       ->run(batch_of(g, {{"ids", "cu"}}));
  expect_close(out.tensors[0].values, g.floats("hidden"), "gpt2 via positional-learned");
  // nn.Transformer's sinusoidal positions through positional-sinusoidal.
  const Expected e("seq2seq-tiny");
  auto s = stage("{path: seq2seq-tiny, positional: {plugin: positional-sinusoidal}}");
  const auto o2 = s->run(batch_of(e, {{"src_ids", "src_cu"}, {"tgt_ids", "tgt_cu"}}));
  expect_close(o2.tensors[0].values, e.floats("hidden"), "seq2seq via positional-sinusoidal");
  EXPECT_EQ(o2.tensors[0].row_counts, (std::vector<int64_t>{5, 2, 9}));
  // Rotary (NeoX) positions through positional-rope.
  const Expected q("qkv-decoder");
  const auto o3 =
      stage("{path: qkv-decoder, positional: {plugin: positional-rope, config: {layout: neox}}}")
          ->run(batch_of(q, {{"ids", "cu"}}));
  expect_close(o3.tensors[0].values, q.floats("hidden"), "qkv-decoder via positional-rope");
}

// With no model.positional, each model gets the bundled plugin its config.json implies (the
// runtime has no positions of its own): torch's outputs for every kind of position.
TEST(Stage, DefaultPositionsAreThePlugins) {
  const Expected g("gpt2-prefixed");  // learned, `transformer.` prefix
  expect_close(stage("{path: gpt2-prefixed}")->run(batch_of(g, {{"ids", "cu"}})).tensors[0].values,
               g.floats("hidden"), "gpt2-prefixed");
  const Expected e("seq2seq-tiny");  // sinusoidal, both stacks
  expect_close(stage("{path: seq2seq-tiny}")
                   ->run(batch_of(e, {{"src_ids", "src_cu"}, {"tgt_ids", "tgt_cu"}}))
                   .tensors[0]
                   .values,
               e.floats("hidden"), "seq2seq-tiny");
  const Expected q("qkv-decoder");  // rotary
  expect_close(stage("{path: qkv-decoder}")->run(batch_of(q, {{"ids", "cu"}})).tensors[0].values,
               q.floats("hidden"), "qkv-decoder");

  // Without the positional plugins a model with positions cannot run: the error names the one
  // it needs (a built-in copy would have run silently).
  host::PluginRegistry attention_only;
  ASSERT_TRUE(attention_only.load_file(fs::path(QKV_PLUGIN_DIR) / "qkv_attention-flash.so"));
  for (const auto& [model, plugin] :
       std::vector<std::pair<std::string, std::string>>{{"bert-tiny", "positional-learned"},
                                                        {"seq2seq-tiny", "positional-sinusoidal"},
                                                        {"qkv-decoder", "positional-rope"}}) {
    const auto m = error_of([&] { stage("{path: " + model + "}", attention_only); });
    EXPECT_NE(m.find(plugin), std::string::npos) << model << ": " << m;
  }
}

TEST(Stage, ImpliedPositionalPluginsAndTheirConfig) {
  auto implied = [](const std::string& name, bool decoder) {
    const auto t = model::load_model_dir(fixture(name));
    return model::implied_positional(t.config(),
                                     decoder ? t.weights().decoder : t.weights().encoder);
  };
  auto value = [](const config::PluginRef& r, const std::string& key) {
    const auto* v = r.config.find(key);
    return v ? v->scalar : std::string("(missing)");
  };
  const auto bert = implied("bert-prefixed", false);
  ASSERT_TRUE(bert);
  EXPECT_EQ(bert->plugin, "positional-learned");
  EXPECT_EQ(value(*bert, "tensor"), "bert.embeddings.position_embeddings.weight");
  const auto gpt2 = implied("gpt2-tiny", true);
  ASSERT_TRUE(gpt2);
  EXPECT_EQ(value(*gpt2, "tensor"), "wpe.weight");
  const auto rope = implied("qkv-decoder", true);
  ASSERT_TRUE(rope);
  EXPECT_EQ(rope->plugin, "positional-rope");
  EXPECT_EQ(value(*rope, "layout"), "neox");
  EXPECT_EQ(value(*rope, "base"), "10000");
  EXPECT_EQ(value(*rope, "max_positions"), "0");
  const auto sin = implied("seq2seq-tiny", false);
  ASSERT_TRUE(sin);
  EXPECT_EQ(sin->plugin, "positional-sinusoidal");
  EXPECT_EQ(value(*sin, "base"), "10000");
}

TEST(Stage, PositionalPluginMustFitTheModel) {
  // bert-tiny's d_model is 16: a plugin configured for another width fails when the stage is
  // built, naming both widths, not at the first batch.
  const auto m = error_of([] {
    stage("{path: bert-tiny, positional: {plugin: positional-sinusoidal, config: {dim: 7}}}");
  });
  EXPECT_NE(m.find("'positional-sinusoidal' is configured for dim 7, the model's dim is 16"),
            std::string::npos)
      << m;
  const auto r = error_of([] {
    stage("{path: qkv-decoder, positional: {plugin: positional-rope, config: {head_dim: 16}}}");
  });
  EXPECT_NE(r.find("configured for head_dim 16, the model's head_dim is 8"), std::string::npos)
      << r;
}

TEST(Stage, ClearErrors) {
  auto message = [](const std::string& yaml) {
    try {
      stage(yaml);
    } catch (const std::exception& ex) {
      return std::string(ex.what());
    }
    return std::string();
  };
  // What the pipeline file says wrong is config/'s (file:line:column); the stage never sees it.
  EXPECT_NE(message("{output: hidden}").find("p.yaml:2:8: model.path: expected "),
            std::string::npos)
      << message("{output: hidden}");
  EXPECT_NE(message("{path: nowhere}").find("p.yaml:2:15: model.path: expected an existing folder"),
            std::string::npos)
      << message("{path: nowhere}");
  EXPECT_NE(message("{path: bert-tiny, topk: 2, outptu: hidden}")
                .find("p.yaml:2:35: model.outptu: unknown key"),
            std::string::npos)
      << message("{path: bert-tiny, topk: 2, outptu: hidden}");
  // What only the model can tell stays the stage's.
  EXPECT_NE(message("{path: empty}").find("config.json"), std::string::npos)
      << message("{path: empty}");
  EXPECT_NE(message("{path: bert-tiny, output: logprobs}").find("needs a decoder"),
            std::string::npos);
  EXPECT_NE(
      message("{path: bert-tiny, attention: {plugin: attention-nope}}").find("attention-nope"),
      std::string::npos);
}

}  // namespace
