// A client's asset path is checked against the roots and then opened: the file the plugin (or
// the model runtime) reads must be the one that was checked, even when the client swaps a
// folder on the path for a symlink in between (issue 10 item 2). The swap happens between
// check_client_paths (what a daemon job does first) and the plugin's load, so the test is
// deterministic: no daemon, no timing. With paths handed out by name it reads the secret.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "config/pipeline_config.hpp"
#include "host/plugin_registry.hpp"
#include "io/path_policy.hpp"
#include "pipeline/client_paths.hpp"
#include "pipeline/plugin_tokenizer.hpp"

namespace qkv {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

class AssetPin : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("qkv-asset-pin-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(dir_);
    write(root() / "assets/vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
    write(dir_ / "secret/vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nsecretline\n");
    write(dir_ / "pipelines/wp.yaml",
          "tokenizer:\n  plugin: tokenizer-wordpiece\n  add_special: false\n"
          "  config: {vocab: /nonexistent/vocab.txt}\n");
    registry_.load_directory(QKV_PLUGIN_DIR);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path root() const { return dir_ / "root"; }

  config::PipelineConfig client_pipeline(const config::Overrides& set) const {
    return config::load_pipeline_config(dir_ / "pipelines/wp.yaml", set,
                                        config::ClientValues::overrides);
  }
  // The attacker's move: the checked folder becomes a symlink to the secret one.
  void swap_assets_for_symlink() const {
    fs::rename(root() / "assets", root() / "assets.checked");
    fs::create_directory_symlink(dir_ / "secret", root() / "assets");
  }

  fs::path dir_;
  host::PluginRegistry registry_;
};

TEST_F(AssetPin, APluginReadsTheVocabularyThatWasCheckedNotWhatThePathBecame) {
  io::PathPolicy policy({.input = {}, .output = {}, .models = {root()}}, 0);
  auto cfg = client_pipeline({{"tokenizer.config.vocab", (root() / "assets/vocab.txt").string()}});
  pipeline::check_client_paths(cfg, policy, &registry_);
  swap_assets_for_symlink();

  auto tok = pipeline::make_plugin_tokenizer(cfg, registry_);
  std::vector<int32_t> ids;
  tok->encode("hello", ids, nullptr);
  EXPECT_EQ(ids, (std::vector<int32_t>{4})) << "the tokenizer loaded the swapped-in vocabulary";
  std::string text;
  const int32_t four[] = {4};
  tok->decode(four, text);
  EXPECT_EQ(text, "hello");
  EXPECT_EQ(text.find("secretline"), std::string::npos);
}

TEST_F(AssetPin, ErrorsFromAPinnedFileNameThePathTheClientGave) {
  write(root() / "assets/empty.txt", "");
  io::PathPolicy policy({.input = {}, .output = {}, .models = {root()}}, 0);
  auto cfg = client_pipeline({{"tokenizer.config.vocab", (root() / "assets/empty.txt").string()}});
  pipeline::check_client_paths(cfg, policy, &registry_);
  try {
    pipeline::make_plugin_tokenizer(cfg, registry_);
    FAIL() << "an empty vocabulary loaded";
  } catch (const std::exception& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find("/proc/self/fd/"), std::string::npos) << what;
  }
}

TEST_F(AssetPin, AVocabularyFolderSwappedBeforeTheCheckIsRefused) {
  swap_assets_for_symlink();
  io::PathPolicy policy({.input = {}, .output = {}, .models = {root()}}, 0);
  auto cfg = client_pipeline({{"tokenizer.config.vocab", (root() / "assets/vocab.txt").string()}});
  try {
    pipeline::check_client_paths(cfg, policy, &registry_);
    FAIL() << "a path through a symlink out of the roots was accepted";
  } catch (const io::PathError& e) {
    EXPECT_EQ(e.code(), "path_denied") << e.what();
  }
}

TEST_F(AssetPin, AModelFolderWhoseFilesLinkOutOfTheRootsIsRefused) {
  write(root() / "model/config.json", "{}");
  write(dir_ / "pipelines/v.txt", "[PAD]\n[UNK]\n");
  fs::create_symlink(dir_ / "secret/vocab.txt", root() / "model/model.safetensors");
  write(dir_ / "pipelines/m.yaml",
        "tokenizer:\n  plugin: tokenizer-wordpiece\n  config: {vocab: v.txt}\n"
        "model: {path: /nonexistent/model}\n");
  io::PathPolicy policy({.input = {}, .output = {}, .models = {root()}}, 0);
  auto cfg = config::load_pipeline_config(dir_ / "pipelines/m.yaml",
                                          {{"model.path", (root() / "model").string()}},
                                          config::ClientValues::overrides);
  try {
    pipeline::check_client_paths(cfg, policy, &registry_);
    FAIL() << "a model folder linking to a file outside the roots was accepted";
  } catch (const io::PathError& e) {
    EXPECT_EQ(e.code(), "path_denied") << e.what();
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
  }
  // A link that stays inside the roots is a normal folder layout (the HF cache uses them).
  fs::remove(root() / "model/model.safetensors");
  write(root() / "blobs/weights", "x");
  fs::create_symlink(root() / "blobs/weights", root() / "model/model.safetensors");
  auto ok = config::load_pipeline_config(dir_ / "pipelines/m.yaml",
                                         {{"model.path", (root() / "model").string()}},
                                         config::ClientValues::overrides);
  EXPECT_NO_THROW(pipeline::check_client_paths(ok, policy, &registry_));
  ASSERT_TRUE(ok.model && ok.model->pinned);
}

// The links are followed through the pinned folder, not through its path: a folder swapped in
// at the same path after the pin must not hide the pinned folder's link out of the roots.
TEST_F(AssetPin, ModelFolderLinksAreCheckedInThePinnedFolderNotAtItsPath) {
  write(root() / "model/config.json", "{}");
  fs::create_symlink(dir_ / "secret/vocab.txt", root() / "model/model.safetensors");
  io::PathPolicy policy({.input = {}, .output = {}, .models = {root()}}, 0);
  const fs::path shown = policy.resolve_asset((root() / "model").string(), root(), "model.path");
  const io::UniqueFd pinned = policy.open_asset(shown, true);
  fs::rename(root() / "model", root() / "model.pinned");
  write(root() / "model/config.json", "{}");
  write(root() / "model/model.safetensors", "harmless");
  try {
    pipeline::check_model_folder_links(pinned, shown, policy);
    FAIL() << "the pinned folder's link out of the roots was checked at the swapped-in path";
  } catch (const io::PathError& e) {
    EXPECT_EQ(e.code(), "path_denied") << e.what();
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
  }
}

// A dangling link out of the roots is outside whether or not its target exists: the answer
// must not tell a client which files exist beyond the roots.
TEST_F(AssetPin, ADanglingModelLinkOutOfTheRootsIsDeniedNotNotFound) {
  write(root() / "model/config.json", "{}");
  fs::create_symlink(dir_ / "secret/no-such-file", root() / "model/model.safetensors");
  io::PathPolicy policy({.input = {}, .output = {}, .models = {root()}}, 0);
  write(dir_ / "pipelines/v.txt", "[PAD]\n[UNK]\n");
  write(dir_ / "pipelines/m.yaml",
        "tokenizer:\n  plugin: tokenizer-wordpiece\n  config: {vocab: v.txt}\n"
        "model: {path: /nonexistent/model}\n");
  auto cfg = config::load_pipeline_config(dir_ / "pipelines/m.yaml",
                                          {{"model.path", (root() / "model").string()}},
                                          config::ClientValues::overrides);
  try {
    pipeline::check_client_paths(cfg, policy, &registry_);
    FAIL() << "a dangling link out of the roots was accepted";
  } catch (const io::PathError& e) {
    EXPECT_EQ(e.code(), "path_denied") << e.what();
  }
}

}  // namespace
}  // namespace qkv
