// The daemon's PipelineJobRunner over the real tokenizer plugin: jobs of one reload generation
// share one StageCache, so a model pipeline's stage is made once for many inline runs (the
// model stage here is a fake that shows which ids it got; the model math has its own tests).
#include <atomic>

#include "jobs/executor.hpp"
#include "service/pipeline_job_runner.hpp"
#include "test_support.hpp"

using namespace qkv;
using namespace qkv::test;

namespace {

// Each token as (id, position in its document).
class IdStage final : public pipeline::ModelStage {
 public:
  size_t max_tokens(size_t) const override { return 0; }
  pipeline::StageOutput run(const pipeline::TokenBatch& b) const override {
    pipeline::StageTensor t{"", 2, false, {}, {}};
    for (size_t d = 0; d < b.documents(); ++d) {
      const int32_t begin = b.cu_seqlens[0][d], end = b.cu_seqlens[0][d + 1];
      for (int32_t i = begin; i < end; ++i) {
        t.values.push_back(static_cast<float>(b.ids[0][i]));
        t.values.push_back(static_cast<float>(i - begin));
      }
      t.row_counts.push_back(end - begin);
    }
    pipeline::StageOutput out;
    out.tensors = {t};
    return out;
  }
};

std::string pipeline_yaml(const std::string& model) {
  const fs::path vocab = fs::path(QKV_SOURCE_DIR) / "data/vocab/gpt2";
  return "tokenizer:\n  plugin: tokenizer-bpe\n  config:\n    encoding: gpt2\n"
         "    encoder_json: " +
         (vocab / "encoder.json").string() + "\n    vocab_bpe: " + (vocab / "vocab.bpe").string() +
         "\nmodel: " + model + "\n";
}

TEST(PipelineJobRunner, ModelStageIsMadeOnceForRepeatedInlineRuns) {
  TempDir dir;
  fs::create_directories(dir.path() / "m");
  spit(dir.path() / "embed.yaml", pipeline_yaml("{path: m}"));
  config::DaemonConfig cfg;
  cfg.pipelines_dir = dir.path();
  cfg.threads = 2;
  auto plugins = std::make_shared<host::PluginRegistry>();
  plugins->load_directory(QKV_PLUGIN_DIR);
  ASSERT_NE(plugins->find(QKV_KIND_TOKENIZER, "tokenizer-bpe"), nullptr);
  auto executor = jobs::make_arena_executor(2);
  std::atomic<int> made{0};
  service::PipelineJobRunner runner(cfg, plugins, *executor,
                                    [&](const pipeline::ModelStageContext&) {
                                      ++made;
                                      return std::make_unique<IdStage>();
                                    });

  pipeline::JobSpec spec;
  spec.id = "inline";
  spec.pipeline = "embed";
  spec.texts = {"hello world"};
  // GPT-2 (r50k_base): "hello" = 31373, " world" = 995.
  const std::vector<std::string> want{"[[31373,0],[995,1]]"};
  for (int i = 0; i < 3; ++i) {
    pipeline::JobProgress progress;
    pipeline::CancelFlag cancel;
    EXPECT_EQ(runner.run(spec, progress, cancel).inline_results, want) << "run " << i;
  }
  EXPECT_EQ(made.load(), 1);
  // One cache holds both what the jobs shared: the tokenizer instance and the stage.
  EXPECT_EQ(runner.cache().models(), 1u);
  EXPECT_EQ(runner.cache().tokenizers(), 1u);

  // An edited pipeline file is parsed again, and a different model section is a new stage.
  spit(dir.path() / "embed.yaml", pipeline_yaml("{path: m, output: pooled_mean}"));
  pipeline::JobProgress progress;
  pipeline::CancelFlag cancel;
  EXPECT_EQ(runner.run(spec, progress, cancel).inline_results, want);
  EXPECT_EQ(made.load(), 2);
  EXPECT_EQ(runner.cache().models(), 2u);
  EXPECT_EQ(runner.cache().tokenizers(), 1u);
}

}  // namespace
