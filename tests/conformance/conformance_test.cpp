// qkv-conformance run as a process: it passes on the project's own plugins and fails, naming
// the class of failure, on deliberately wrong ones (tests/conformance/plugins).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace {

struct Run {
  int status = -1;
  std::string output;
};

Run conformance(const std::string& args) {
  const std::string cmd =
      std::string(QKV_CONFORMANCE_EXE) + " --seed 42 --threads 4 " + args + " 2>&1";
  Run r;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  return r;
}

std::string plugin(const std::string& name) {
  return std::string(QKV_PLUGIN_DIR) + "/qkv_" + name + ".so";
}
std::string wrong(const std::string& name) {
  return std::string(QKV_CONFORMANCE_TEST_PLUGINS) + "/qkv_" + name + ".so";
}

void expect_pass(const std::string& args) {
  auto r = conformance(args);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("conformance: PASSED"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("[FAIL]"), std::string::npos) << r.output;
}

void expect_fail(const std::string& args, const std::string& failing_class) {
  auto r = conformance(args);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("[FAIL] " + failing_class + ":"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("conformance: FAILED: " + failing_class + " "), std::string::npos)
      << r.output;
}

TEST(Conformance, PositionalPluginsPass) {
  expect_pass(plugin("positional-sinusoidal"));
  expect_pass(plugin("positional-sinusoidal") + " --set max_positions=512 --set base=500");
  expect_pass(plugin("positional-rope"));
  expect_pass(plugin("positional-rope") + " --set layout=gptj --set rotary_fraction=0.5");
  expect_pass(plugin("positional-learned") + " --set tensor=wpe.weight --table-rows 64");
}

TEST(Conformance, PositionalLearnedWithoutConfigFailsAtCreate) {
  auto r = conformance(plugin("positional-learned"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("FAILED: create"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("'tensor'"), std::string::npos) << r.output;
}

TEST(Conformance, WrongPositionalPluginsFailNamingTheClass) {
  expect_fail(wrong("test-positional-no-bounds"), "bounds");
  expect_fail(wrong("test-positional-stretch"), "rotary-contract");
}

TEST(Conformance, WrongAttentionPluginsFailNamingTheClass) {
  expect_fail(wrong("test-attention-no-causal"), "causal-mask");
  expect_fail(wrong("test-attention-no-scale"), "scale");
}

TEST(Conformance, WrongTokenizerPluginsFailNamingTheClass) {
  expect_fail(wrong("test-tokenizer-no-max-length"), "max-length");
  expect_fail(wrong("test-tokenizer-no-add-special"), "add-special");
  expect_fail(wrong("test-tokenizer-overlapping-offsets"), "offsets");
  // The same plugin without a flaw passes: the classes above fail for the flaw alone.
  expect_pass(wrong("test-tokenizer-right"));
}

#ifdef QKV_HAVE_ATTENTION_REFERENCE
TEST(Conformance, AttentionReferencePasses) { expect_pass(plugin("attention-reference")); }
#endif
#ifdef QKV_HAVE_ATTENTION_FLASH
TEST(Conformance, AttentionFlashPasses) { expect_pass(plugin("attention-flash")); }
#endif
#ifdef QKV_HAVE_TOKENIZER_BPE
TEST(Conformance, TokenizerBpePasses) {
  const std::string vocab = std::string(QKV_SOURCE_DIR) + "/data/vocab/";
  expect_pass(plugin("tokenizer-bpe") + " --set encoding=cl100k_base --set ranks=" + vocab +
              "cl100k_base.tiktoken");
  expect_pass(plugin("tokenizer-bpe") + " --set encoding=r50k_base --set ranks=" + vocab +
              "r50k_base.tiktoken");
}
#endif
#ifdef QKV_HAVE_TOKENIZER_WORDPIECE
TEST(Conformance, TokenizerWordPiecePassesAsLossy) {
  const std::string vocab = std::string(QKV_SOURCE_DIR) + "/data/vocab/bert-base-uncased/";
  expect_pass(plugin("tokenizer-wordpiece") + " --lossy --set vocab=" + vocab + "vocab.txt");
  // Uncased WordPiece cannot round-trip: without --lossy the report says so.
  expect_fail(plugin("tokenizer-wordpiece") + " --set vocab=" + vocab + "vocab.txt", "round-trip");
}
#endif

TEST(Conformance, UnloadableLibraryIsAUsageError) {
  auto r = conformance(std::string(QKV_SOURCE_DIR) + "/README.md");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("README.md"), std::string::npos) << r.output;
}

}  // namespace
