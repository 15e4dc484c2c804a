// `qkvd --check-config`: every problem of the daemon config and of each pipeline in its
// folder is printed (not just the first), and the exit status says whether there was any.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/cli_context.hpp"

namespace fs = std::filesystem;

namespace {

class CheckConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("qkv-check-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "pipes");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  int check(const std::string& name, std::string& out) {
    qkv::cli::CliContext ctx;
    std::ostringstream os;
    int rc = qkv::cli::check_config(ctx, dir_ / name, os);
    out = os.str();
    return rc;
  }
  fs::path dir_;
};

TEST_F(CheckConfig, ReportsDaemonAndPipelineErrorsTogether) {
  write("qkvd.yaml", "pipelines_dir: pipes\nthreads: lots\ndefault_pipeline: absent\n");
  write("pipes/a.yaml",
        "tokenizer:\n  plugin: tokenizer-bpe\n  config: {ranks: nope.tiktoken}\nbatch: {documents: "
        "0}\n");
  std::string out;
  // The daemon config itself is invalid: its errors are all listed.
  EXPECT_EQ(check("qkvd.yaml", out), 1);
  const std::string d = (dir_ / "qkvd.yaml").string();
  EXPECT_EQ(out, d + ":2:10: threads: expected an integer in [0, 4096], got 'lots'\n" + d +
                     ": 1 problem found\n");

  write("qkvd.yaml", "pipelines_dir: pipes\ndefault_pipeline: absent\n");
  EXPECT_EQ(check("qkvd.yaml", out), 1);
  const std::string a = (dir_ / "pipes/a.yaml").string();
  EXPECT_NE(out.find(d + ": default_pipeline: expected a pipeline in "), std::string::npos) << out;
  EXPECT_NE(out.find(a + ":3:19: tokenizer.config.ranks: expected an existing file"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(a + ":4:20: batch.documents: expected an integer in [1, 1000000], got '0'"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(d + ": 3 problems found"), std::string::npos) << out;
}

TEST_F(CheckConfig, OnePipelineFileAndAnUnknownPlugin) {
  write("pipes/b.yaml", "tokenizer: {plugin: no-such-tokenizer}\n");
  std::string out;
  EXPECT_EQ(check("pipes/b.yaml", out), 1);
  EXPECT_EQ(
      out.rfind(
          (dir_ / "pipes/b.yaml").string() +
              ":1:21: tokenizer.plugin: no tokenizer plugin named 'no-such-tokenizer' is loaded",
          0),
      0u)
      << out;
}

}  // namespace
