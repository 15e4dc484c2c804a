// Config validation: each error kind reports file:line:column, the key path and what is
// expected; all errors are collected; relative paths resolve against the file's folder;
// --set overrides apply before validation and are named in their errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/daemon_config.hpp"
#include "config/diagnostics.hpp"
#include "config/pipeline_config.hpp"

namespace fs = std::filesystem;
using namespace qkv::config;

namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("qkv-config-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "pipelines");
    fs::create_directories(dir_ / "vocab");
    std::ofstream(dir_ / "vocab" / "v.tiktoken") << "IQ== 0\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }
  // The diagnostics of loading a pipeline (empty when valid).
  std::vector<std::string> pipeline_errors(const std::string& text, const Overrides& sets = {}) {
    fs::path p = write("pipelines/p.yaml", text);
    try {
      load_pipeline_config(p, sets);
    } catch (const ConfigError& e) {
      std::vector<std::string> out;
      for (const auto& d : e.diagnostics()) out.push_back(d.str());
      return out;
    }
    return {};
  }
  std::vector<std::string> daemon_errors(const std::string& text, const Overrides& sets = {}) {
    fs::path p = write("qkvd.yaml", text);
    try {
      load_daemon_config(p, sets);
    } catch (const ConfigError& e) {
      std::vector<std::string> out;
      for (const auto& d : e.diagnostics()) out.push_back(d.str());
      return out;
    }
    return {};
  }
  std::string pfile() const { return (dir_ / "pipelines/p.yaml").string(); }
  std::string dfile() const { return (dir_ / "qkvd.yaml").string(); }
  fs::path dir_;
};

const char* kValid =
    "tokenizer:\n"
    "  plugin: tokenizer-bpe\n"
    "  config:\n"
    "    encoding: cl100k_base\n"
    "    ranks: ../vocab/v.tiktoken\n";

TEST_F(ConfigTest, ValidPipelineTakesDefaultsAndResolvesAgainstItsFolder) {
  fs::path p = write("pipelines/p.yaml", kValid);
  PipelineConfig c = load_pipeline_config(p);
  EXPECT_EQ(c.name, "p");
  EXPECT_EQ(c.dir, fs::absolute(dir_ / "pipelines"));
  EXPECT_EQ(c.tokenizer.plugin, "tokenizer-bpe");
  const auto* encoding = c.tokenizer.config.find("encoding");
  ASSERT_NE(encoding, nullptr);
  EXPECT_EQ(encoding->scalar, "cl100k_base");
  EXPECT_EQ(encoding->line, 3);  // 0-based: the plugin's messages cite p.yaml:4:15
  EXPECT_EQ(encoding->column, 14);
  EXPECT_EQ(c.input.fields.size(), 1u);
  EXPECT_EQ(c.input.fields[0].second, "text");
  EXPECT_FALSE(c.input.replace_invalid);
  EXPECT_FALSE(c.output.format) << "the output's extension decides";
  EXPECT_EQ(c.batch.documents, 256u);
  EXPECT_TRUE(c.tokenizer.add_special);
  EXPECT_EQ(c.tokenizer.max_length, 0u);
  EXPECT_FALSE(c.model.has_value());
}

TEST_F(ConfigTest, UnknownKeyPointsAtTheKey) {
  auto e = pipeline_errors(std::string(kValid) + "outptu:\n  format: bin\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].rfind(pfile() + ":6:1: outptu: unknown key; expected one of: ", 0), 0u) << e[0];
}

TEST_F(ConfigTest, UnknownNestedKey) {
  auto e = pipeline_errors(std::string(kValid) + "batch:\n  documents: 4\n  tokens: 5\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0],
            pfile() + ":8:3: batch.tokens: unknown key; expected one of: documents, max_tokens");
}

TEST_F(ConfigTest, WrongTypePointsAtTheValue) {
  auto e = pipeline_errors(std::string(kValid) + "batch:\n  documents: many\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0],
            pfile() + ":7:14: batch.documents: expected an integer in [1, 1000000], got 'many'");
}

TEST_F(ConfigTest, WrongTypeMappingInsteadOfBool) {
  auto e = pipeline_errors(std::string(kValid) + "output:\n  offsets: {a: 1}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], pfile() + ":7:12: output.offsets: expected true or false, got a mapping");
}

TEST_F(ConfigTest, MissingKeyPointsAtItsParent) {
  auto e = pipeline_errors("description: x\ntokenizer:\n  config: {}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], pfile() + ":3:3: tokenizer.plugin: expected a string (required key is missing)");
}

TEST_F(ConfigTest, MissingSection) {
  auto e = pipeline_errors("description: x\n");
  ASSERT_GE(e.size(), 1u);
  EXPECT_EQ(e[0].rfind(pfile() + ":1:1: tokenizer: expected a tokenizer mapping", 0), 0u) << e[0];
}

TEST_F(ConfigTest, OutOfRangeValue) {
  auto e = pipeline_errors(std::string(kValid) + "batch: {documents: 0}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], pfile() + ":6:20: batch.documents: expected an integer in [1, 1000000], got '0'");
}

TEST_F(ConfigTest, BadChoice) {
  auto e = pipeline_errors(std::string(kValid) + "input:\n  invalid_utf8: ignore\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0],
            pfile() + ":7:17: input.invalid_utf8: expected one of error | replace, got 'ignore'");
}

TEST_F(ConfigTest, NonexistentPathIsResolvedAgainstTheFileFolder) {
  auto e = pipeline_errors(
      "tokenizer:\n  plugin: tokenizer-bpe\n  config:\n    ranks: ../vocab/missing.tiktoken\n");
  ASSERT_EQ(e.size(), 1u);
  const std::string resolved =
      (fs::absolute(dir_) / "vocab/missing.tiktoken").lexically_normal().string();
  EXPECT_EQ(e[0], pfile() + ":4:12: tokenizer.config.ranks: expected an existing file, but " +
                      resolved + " is not one");
}

TEST_F(ConfigTest, CollectsEveryError) {
  auto e = pipeline_errors(
      "tokenizer:\n"
      "  plugin: [a]\n"
      "  max_length: -1\n"
      "input: {format: csv}\n"
      "batch: {documents: x, max_tokens: 0}\n"
      "extra: 1\n");
  ASSERT_EQ(e.size(), 6u) << ::testing::PrintToString(e);
  EXPECT_EQ(e[0], pfile() + ":4:17: input.format: expected one of auto | jsonl | txt, got 'csv'");
  EXPECT_EQ(e[1], pfile() + ":2:11: tokenizer.plugin: expected a string, got a list");
  EXPECT_EQ(
      e[2],
      pfile() + ":3:15: tokenizer.max_length: expected an integer in [0, 2147483647], got '-1'");
  EXPECT_EQ(e[3], pfile() + ":5:20: batch.documents: expected an integer in [1, 1000000], got 'x'");
  EXPECT_EQ(e[4],
            pfile() + ":5:35: batch.max_tokens: expected an integer in [1, 1073741824], got '0'");
  EXPECT_EQ(e[5].rfind(pfile() + ":6:1: extra: unknown key", 0), 0u) << e[5];
}

TEST_F(ConfigTest, YamlSyntaxErrorHasLineAndColumn) {
  auto e = pipeline_errors("tokenizer:\n  plugin: [unclosed\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].rfind(pfile() + ":3:1: expected valid YAML: ", 0), 0u) << e[0];
}

TEST_F(ConfigTest, MissingFile) {
  try {
    load_pipeline_config(dir_ / "nope.yaml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              (dir_ / "nope.yaml").string() + ": expected a readable YAML file (not found)");
  }
}

TEST_F(ConfigTest, OverridesApplyBeforeValidation) {
  fs::path p = write("pipelines/p.yaml", kValid);
  PipelineConfig c = load_pipeline_config(p, {{"batch.documents", "7"},
                                              {"input.invalid_utf8", "replace"},
                                              {"tokenizer.special_tokens", "[a, b]"}});
  EXPECT_EQ(c.batch.documents, 7u);
  EXPECT_TRUE(c.input.replace_invalid);
  EXPECT_EQ(c.tokenizer.special, SpecialTokens::list);
  EXPECT_EQ(c.tokenizer.special_names, (std::vector<std::string>{"a", "b"}));
}

TEST_F(ConfigTest, OverrideErrorsNameTheOverride) {
  auto e = pipeline_errors(
      kValid, {{"batch.documents", "lots"}, {"output.fromat", "bin"}, {"tokenizer.plugin.x", "1"}});
  ASSERT_EQ(e.size(), 3u) << ::testing::PrintToString(e);
  EXPECT_EQ(e[0],
            "--set tokenizer.plugin.x: expected tokenizer.plugin to be a mapping (it is not)");
  EXPECT_EQ(e[1], "--set batch.documents: expected an integer in [1, 1000000], got 'lots'");
  EXPECT_EQ(
      e[2],
      "--set output.fromat: unknown key; expected one of: format, inline_id, offsets, overwrite, "
      "separator");
}

TEST_F(ConfigTest, CrossKeyRules) {
  auto e = pipeline_errors(std::string(kValid) + "output: {format: bin, offsets: true}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], pfile() +
                      ":6:32: output.offsets: expected false: offsets are written only with "
                      "output.format jsonl");
  e = pipeline_errors(std::string(kValid) + "output: {format: npy}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(
      e[0],
      pfile() +
          ":6:18: output.format: expected jsonl, bin or megatron: npy needs a `model:` section");
}

TEST_F(ConfigTest, SpecialTokensForms) {
  fs::path p = write("pipelines/p.yaml", std::string(kValid) + "  special_tokens: all\n");
  EXPECT_EQ(load_pipeline_config(p).tokenizer.special, SpecialTokens::all);
  auto e = pipeline_errors(std::string(kValid) + "  special_tokens: some\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(
      e[0],
      pfile() +
          ":6:19: tokenizer.special_tokens: expected one of default | none | all, got 'some'");
}

TEST_F(ConfigTest, ModelSection) {
  fs::create_directories(dir_ / "model");
  fs::path p =
      write("pipelines/p.yaml", std::string(kValid) +
                                    "model:\n  path: ../model\n  output: pooled_mean\n"
                                    "  attention: {plugin: attention-flash, config: {}}\n");
  PipelineConfig c = load_pipeline_config(p);
  ASSERT_TRUE(c.model.has_value());
  EXPECT_EQ(c.model->path, fs::absolute(dir_ / "model").lexically_normal());
  EXPECT_EQ(c.model->output, ModelOutput::pooled_mean);
  EXPECT_EQ(c.model->topk, 5u);
  EXPECT_TRUE(c.model->truncate);
  EXPECT_EQ(c.model->attention.plugin, "attention-flash");
  EXPECT_EQ(c.model->attention.plugin_where, pfile() + ":9:23");
  EXPECT_EQ(c.model->attention.config.type, QKV_VALUE_MAP);
  EXPECT_TRUE(c.model->positional.plugin.empty());  // the model's default
  EXPECT_EQ(c.model->positional.config.type, QKV_VALUE_MISSING);
  EXPECT_FALSE(c.output.format) << "npy from the extension, checked when the job starts";
  auto e = pipeline_errors(std::string(kValid) +
                           "model:\n  path: ../nomodel\n  attention: {config: {}}\n");
  ASSERT_EQ(e.size(), 2u) << ::testing::PrintToString(e);
  EXPECT_EQ(e[0].rfind(pfile() + ":7:9: model.path: expected an existing folder, but ", 0), 0u)
      << e[0];
  EXPECT_EQ(e[1],
            pfile() + ":8:14: model.attention.plugin: expected a string (required key is missing)");
}

// The model stage reads only this typed section: a misspelled or invalid model key is an
// error here, with the file position, instead of a silent default in the stage.
TEST_F(ConfigTest, ModelKeyTyposAndBadValuesPointAtTheKey) {
  fs::create_directories(dir_ / "model");
  auto e = pipeline_errors(std::string(kValid) +
                           "model:\n  path: ../model\n  ouptut: pooled_mean\n  topk: 0\n"
                           "  positional: {plugin: positional-rope, confg: {layout: neox}}\n");
  ASSERT_EQ(e.size(), 3u) << ::testing::PrintToString(e);
  EXPECT_EQ(e[0].rfind(pfile() + ":9:9: model.topk: expected an integer in [1, 100000], got ", 0),
            0u)
      << e[0];
  EXPECT_EQ(
      e[1].rfind(pfile() + ":10:41: model.positional.confg: unknown key; expected one of: ", 0), 0u)
      << e[1];
  EXPECT_EQ(e[2].rfind(pfile() + ":8:3: model.ouptut: unknown key; expected one of: ", 0), 0u)
      << e[2];
  auto bad = pipeline_errors(std::string(kValid) + "model:\n  path: ../model\n  output: hiden\n");
  ASSERT_EQ(bad.size(), 1u) << ::testing::PrintToString(bad);
  EXPECT_EQ(bad[0].rfind(pfile() + ":8:11: model.output: expected one of hidden | ", 0), 0u)
      << bad[0];
}

TEST_F(ConfigTest, DaemonConfigDefaultsAndRelativePaths) {
  fs::path p = write("qkvd.yaml", "socket: run/q.sock\nspool: spool\nthreads: 2\n");
  DaemonConfig c = load_daemon_config(p);
  EXPECT_EQ(c.socket, fs::absolute(dir_) / "run/q.sock");
  EXPECT_EQ(c.spool, fs::absolute(dir_) / "spool");
  EXPECT_EQ(c.pipelines_dir, fs::absolute(dir_) / "pipelines");
  EXPECT_EQ(c.threads, 2u);
  EXPECT_EQ(c.socket_mode, 0660u);
  EXPECT_EQ(c.default_pipeline, "tokenize-gpt2");
  EXPECT_EQ(c.limits.max_queue, 64u);
  EXPECT_FALSE(c.tcp.has_value());
}

TEST_F(ConfigTest, DaemonConfigErrors) {
  auto e = daemon_errors(
      "socket_mode: \"0999\"\n"
      "pipelines_dir: nowhere\n"
      "limits:\n"
      "  max_queue: 0\n"
      "  max_queued: 3\n"
      "tcp: {address: 0.0.0.0, tokens_file: qkvd.yaml}\n"
      "threads: -2\n");
  ASSERT_EQ(e.size(), 6u) << ::testing::PrintToString(e);
  EXPECT_EQ(
      e[0],
      dfile() + ":1:14: socket_mode: expected an octal file mode such as \"0660\", got '0999'");
  EXPECT_EQ(e[1], dfile() + ":2:16: pipelines_dir: expected an existing folder, but " +
                      (fs::absolute(dir_) / "nowhere").string() + " is not one");
  EXPECT_EQ(e[2], dfile() + ":7:10: threads: expected an integer in [0, 4096], got '-2'");
  EXPECT_EQ(
      e[3],
      dfile() + ":6:6: tcp.port: expected an integer in [1, 65535] (required key is missing)");
  EXPECT_EQ(e[4],
            dfile() + ":4:14: limits.max_queue: expected an integer in [1, 1000000], got '0'");
  EXPECT_EQ(e[5].rfind(dfile() + ":5:3: limits.max_queued: unknown key", 0), 0u) << e[5];
}

TEST_F(ConfigTest, DaemonOverrides) {
  fs::path p = write("qkvd.yaml", "threads: 2\n");
  DaemonConfig c = load_daemon_config(
      p, {{"threads", "3"}, {"tcp.port", "8080"}, {"tcp.tokens_file", p.string()}});
  EXPECT_EQ(c.threads, 3u);
  ASSERT_TRUE(c.tcp.has_value());
  EXPECT_EQ(c.tcp->port, 8080);
}

// The package's layout: share/qkv/pipelines is a symlink to configs/pipelines, whose files name
// ../../data/vocab. Resolved beside the link, that is <prefix>/share/data (wrong).
TEST_F(ConfigTest, RelativePathsResolveAgainstTheFilesRealFolder) {
  fs::create_directories(dir_ / "share/configs/pipelines");
  fs::create_directories(dir_ / "share/data");
  std::ofstream(dir_ / "share/data/v.tiktoken") << "IQ== 0\n";
  write("share/configs/pipelines/p.yaml",
        "tokenizer:\n  plugin: tokenizer-bpe\n  config:\n    encoding: cl100k_base\n"
        "    ranks: ../../data/v.tiktoken\n");
  fs::create_directory_symlink("configs/pipelines", dir_ / "share/pipelines");
  PipelineConfig c = load_pipeline_config(dir_ / "share/pipelines/p.yaml");
  EXPECT_EQ(c.dir, fs::canonical(dir_ / "share/configs/pipelines"));
  // A symlinked file resolves beside its target too.
  fs::create_symlink(dir_ / "share/configs/pipelines/p.yaml", dir_ / "pipelines/linked.yaml");
  EXPECT_NO_THROW(load_pipeline_config(dir_ / "pipelines/linked.yaml"));
}

TEST_F(ConfigTest, AbsentPluginFoldersAreSkippedButAFileIsAnError) {
  DaemonConfig c = load_daemon_config(write("qkvd.yaml", "plugin_dirs: [not-yet, pipelines]\n"));
  EXPECT_EQ(c.plugin_dirs.size(), 2u);
  auto e = daemon_errors("plugin_dirs: [qkvd.yaml]\n");
  ASSERT_EQ(e.size(), 1u) << ::testing::PrintToString(e);
  EXPECT_EQ(e[0], dfile() + ":1:15: plugin_dirs.0: expected a folder (or nothing yet), but " +
                      (fs::absolute(dir_) / "qkvd.yaml").string() + " is not one");
}

TEST(PipelineLookup, NameOrPath) {
  EXPECT_EQ(resolve_pipeline("tokenize-gpt2", "/p"), fs::path("/p/tokenize-gpt2.yaml"));
  EXPECT_EQ(resolve_pipeline("x/y.yaml", "/p"), fs::path("x/y.yaml"));
  EXPECT_EQ(resolve_pipeline("local.yml", "/p"), fs::path("local.yml"));
}

TEST(ShippedConfigs, AllValid) {
  const fs::path root = QKV_SOURCE_DIR;
  DaemonConfig d = load_daemon_config(root / "configs/qkvd.yaml");
  EXPECT_EQ(d.default_pipeline, "tokenize-gpt2");
  auto files = list_pipelines(d.pipelines_dir);
  ASSERT_GE(files.size(), 4u);
  for (const auto& f : files) EXPECT_NO_THROW(load_pipeline_config(f)) << f;
  EXPECT_TRUE(fs::exists(resolve_pipeline(d.default_pipeline, d.pipelines_dir)));
}

}  // namespace
