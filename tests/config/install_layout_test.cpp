// Which daemon config a qkv binary uses when none is named (config/install_layout.hpp), seen
// through the real qkvctl: a copy outside the build tree reads <prefix>/etc/qkv, never the
// source tree; a broken default config is reported as such, not as "cannot connect".
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace fs = std::filesystem;

namespace {

struct Result {
  int status = -1;
  std::string output;  // stdout and stderr
};

// Runs `cmd` with QKVD_CONFIG and QKV_SOCKET removed, as a user's shell would have them.
Result run(const std::string& cmd) {
  Result r;
  FILE* p = ::popen(("env -u QKVD_CONFIG -u QKV_SOCKET " + cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class InstallLayout : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix_ = fs::temp_directory_path() /
              ("qkv-layout-" + std::to_string(::getpid()) + "-" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(prefix_);
    fs::create_directories(prefix_ / "bin");
    fs::copy_file(QKVCTL_PATH, prefix_ / "bin/qkvctl");
  }
  void TearDown() override { fs::remove_all(prefix_); }
  void write_config(const std::string& text) {
    fs::create_directories(prefix_ / "etc/qkv");
    std::ofstream(prefix_ / "etc/qkv/qkvd.yaml") << text;
  }
  std::string qkvctl() const { return (prefix_ / "bin/qkvctl").string(); }
  fs::path prefix_;
};

TEST_F(InstallLayout, CopiedBinaryReadsItsPrefixConfig) {
  const fs::path sock = prefix_ / "run/qkvd.sock";
  write_config("socket: " + sock.string() + "\n");
  Result r = run(qkvctl() + " health");
  EXPECT_EQ(r.status, 3) << r.output;  // unreachable: nothing listens there
  EXPECT_NE(r.output.find(sock.string()), std::string::npos) << r.output;
}

TEST_F(InstallLayout, CopiedBinaryNeverUsesTheSourceTree) {
  Result r = run(qkvctl() + " health");
  EXPECT_EQ(r.output.find(QKV_SOURCE_DIR), std::string::npos) << r.output;
  if (!fs::exists("/etc/qkv/qkvd.yaml")) {
    EXPECT_EQ(r.status, 3) << r.output;
    EXPECT_NE(r.output.find("/run/qkv/qkvd.sock"), std::string::npos) << r.output;
  }
}

TEST_F(InstallLayout, BrokenDefaultConfigIsReportedNotGuessedAround) {
  write_config("threads: lots\n");
  Result r = run(qkvctl() + " health");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find((prefix_ / "etc/qkv/qkvd.yaml").string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("threads: expected an integer"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("cannot connect"), std::string::npos) << r.output;
}

TEST_F(InstallLayout, BuildTreeBinaryUsesItsCheckoutsConfig) {
  // configs/qkvd.yaml names ../build/run/qkvd.sock; a daemon may be listening there (make run).
  const std::string sock = (fs::path(QKV_SOURCE_DIR) / "build/run/qkvd.sock").string();
  Result r = run(std::string(QKVCTL_PATH) + " health");
  if (r.status != 0) {
    EXPECT_EQ(r.status, 3) << r.output;
    EXPECT_NE(r.output.find(sock), std::string::npos) << r.output;
  }
}

#ifdef NDEBUG  // debug builds keep assert()'s __FILE__ names
TEST(InstalledBinaries, CarryNoPathOfTheTreeTheyWereBuiltIn) {
  for (const char* exe : {QKVCTL_PATH, QKVD_PATH}) {
    std::ifstream in(exe, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_GT(bytes.size(), 0u) << exe;
    EXPECT_EQ(bytes.find(QKV_SOURCE_DIR), std::string::npos) << exe;
    EXPECT_EQ(bytes.find(QKV_BINARY_DIR), std::string::npos) << exe;
  }
}
#endif

}  // namespace
