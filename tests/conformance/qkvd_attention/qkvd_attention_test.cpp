// `qkvd attention` as a process on the .npy fixtures made by make_fixtures.py (torch 1.13),
// through each bundled attention plugin; plus its input errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "io/npy.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(QKV_SOURCE_DIR) / "tests/conformance/qkvd_attention/fixtures";

struct Run {
  int status = -1;
  std::string output;
};

Run qkvd(const std::string& args) {
  const std::string cmd = std::string(QKV_QKVD_EXE) + " attention " + args + " 2>&1";
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

nlohmann::json manifest() {
  std::ifstream in(kFixtures / "manifest.json");
  return nlohmann::json::parse(in);
}

std::string file(const nlohmann::json& c, const std::string& key) {
  return (kFixtures / c.at("files").at(key).get<std::string>()).string();
}

fs::path temp_out(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("qkv_attention_cmd_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}

void check_plugin(const std::string& plugin) {
  for (const auto& c : manifest().at("cases")) {
    const std::string name = c.at("name");
    std::string args = "--plugin " + plugin + " --q " + file(c, "q") + " --k " + file(c, "k") +
                       " --v " + file(c, "v") + " --heads-kv " +
                       std::to_string(c.at("heads_kv").get<int>());
    if (c.at("files").contains("cu_q"))
      args += " --cu-seqlens-q " + file(c, "cu_q") + " --cu-seqlens-k " + file(c, "cu_k");
    for (const auto& f : c.at("flags")) {
      args += ' ';
      args += f.get<std::string>();
    }
    const auto out = temp_out(plugin + "." + name + ".npy");
    auto r = qkvd(args + " --out " + out.string());
    ASSERT_EQ(r.status, 0) << name << ": " << r.output;
    auto got = qkv::io::read_npy(out);
    auto want = qkv::io::read_npy(file(c, "expected"));
    ASSERT_EQ(got.shape, want.shape) << name;
    const auto g = got.as<float>(), w = want.as<float>();
    float max_ref = 0;
    for (float x : w) max_ref = std::max(max_ref, std::fabs(x));
    const double tol = 1e-5 + 1e-4 * max_ref;
    size_t bad = 0;
    for (size_t i = 0; i < w.size(); ++i)
      if (!(std::fabs(double{g[i]} - w[i]) <= tol) && bad++ < 3)
        ADD_FAILURE() << plugin << " " << name << ": element " << i << " = " << g[i] << ", torch "
                      << w[i];
    EXPECT_EQ(bad, 0u) << plugin << " " << name;
    fs::remove(out);
  }
}

TEST(QkvdAttention, ReferenceMatchesTorchFixtures) { check_plugin("attention-reference"); }

#ifdef QKV_HAVE_ATTENTION_FLASH
TEST(QkvdAttention, FlashMatchesTorchFixtures) { check_plugin("attention-flash"); }
#endif

TEST(QkvdAttention, InputErrorsNameTheFileAndCause) {
  const auto c = manifest().at("cases").at(0);
  const auto out = temp_out("err.npy").string();
  // k passed as q: head counts / dims no longer fit, or cu_seqlens do not end at the tokens.
  auto r = qkvd("--plugin attention-reference --q " + file(c, "q") + " --k " + file(c, "k") +
                " --v " + file(c, "q") + " --out " + out);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("v must have k's shape"), std::string::npos) << r.output;

  r = qkvd("--plugin attention-reference --q " + file(c, "q") + " --k " + file(c, "k") + " --v " +
           file(c, "v") + " --cu-seqlens-q " + file(c, "cu_k") + " --cu-seqlens-k " +
           file(c, "cu_q") + " --out " + out);
  EXPECT_EQ(r.status, 0) << "equal lengths: swapping the offsets is still valid: " << r.output;

  r = qkvd("--plugin attention-reference --q " + file(c, "cu_q") + " --k " + file(c, "k") +
           " --v " + file(c, "v") + " --out " + out);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("must be float32"), std::string::npos) << r.output;

  r = qkvd("--plugin attention-reference --q " + file(c, "q") + " --k " + file(c, "k") + " --v " +
           file(c, "v") + " --cu-seqlens-q " + file(c, "cu_q") + " --out " + out);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("go together"), std::string::npos) << r.output;

  r = qkvd("--plugin no-such-attention --q " + file(c, "q") + " --k " + file(c, "k") + " --v " +
           file(c, "v") + " --out " + out);
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("no-such-attention"), std::string::npos) << r.output;

  r = qkvd("--plugin attention-reference --q /nonexistent.npy --k " + file(c, "k") + " --v " +
           file(c, "v") + " --out " + out);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("/nonexistent.npy"), std::string::npos) << r.output;
}

}  // namespace
