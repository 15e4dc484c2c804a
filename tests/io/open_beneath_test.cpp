// open_beneath (io/open_beneath.hpp) on real folders, through openat2 and through the forced
// per-component fallback: the same files open, the same escapes (symlinks, "..") are refused.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "io/open_beneath.hpp"
#include "io/path_policy.hpp"

namespace qkv::io {
namespace {

struct Tree {
  Tree() {
    char t[] = "/tmp/qkvbeneath-XXXXXX";
    base = ::mkdtemp(t);
    fs::create_directories(base / "root" / "sub");
    std::ofstream(base / "root" / "sub" / "in.txt") << "inside";
    std::ofstream(base / "secret.txt") << "secret";
    fs::create_symlink(base / "secret.txt", base / "root" / "leak.txt");
    fs::create_directory_symlink(base, base / "root" / "up");
  }
  ~Tree() { fs::remove_all(base); }
  fs::path base;
};

std::string read_all(const UniqueFd& fd) {
  char buf[64];
  ssize_t n = ::read(fd.get(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string code_of(const Directory& root, const char* rel, int flags = O_RDONLY) {
  try {
    open_beneath(root, rel, flags, 0600);
  } catch (const PathError& e) {
    return e.code();
  } catch (const IoError&) {
    return "io";
  }
  return "opened";
}

class OpenBeneath : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { force_open_beneath_fallback_for_testing(GetParam()); }
  void TearDown() override { force_open_beneath_fallback_for_testing(false); }
};

TEST_P(OpenBeneath, OpensInsideAndRefusesEveryEscape) {
  Tree t;
  auto root = Directory::open(t.base / "root");
  EXPECT_EQ(read_all(open_beneath(root, "sub/in.txt", O_RDONLY)), "inside");
  EXPECT_EQ(read_all(open_beneath(root, "./sub//in.txt", O_RDONLY)), "inside");
  EXPECT_EQ(code_of(root, "leak.txt"), "path_denied");       // symlink as the last component
  EXPECT_EQ(code_of(root, "up/secret.txt"), "path_denied");  // symlink as a folder
  EXPECT_EQ(code_of(root, "../secret.txt"), "path_denied");
  EXPECT_EQ(code_of(root, "sub/../../secret.txt"), "path_denied");
  EXPECT_EQ(code_of(root, "/etc/passwd"), "path_denied");
  EXPECT_EQ(code_of(root, "sub/none.txt"), "io");
  // Creating through a symlink must not create the target outside.
  EXPECT_EQ(code_of(root, "up/created.txt", O_WRONLY | O_CREAT), "path_denied");
  EXPECT_FALSE(fs::exists(t.base / "created.txt"));
  EXPECT_EQ(code_of(root, "sub/created.txt", O_WRONLY | O_CREAT | O_EXCL), "opened");
  EXPECT_TRUE(fs::is_regular_file(t.base / "root" / "sub" / "created.txt"));
}

TEST_P(OpenBeneath, AFolderSwappedForASymlinkAfterTheRootIsOpenedIsRefused) {
  Tree t;
  auto root = Directory::open(t.base / "root");
  fs::rename(t.base / "root" / "sub", t.base / "moved");
  fs::create_directory_symlink(t.base / "moved", t.base / "root" / "sub");
  EXPECT_EQ(code_of(root, "sub/in.txt"), "path_denied");
}

INSTANTIATE_TEST_SUITE_P(Openat2AndFallback, OpenBeneath, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "fallback" : "openat2"; });

}  // namespace
}  // namespace qkv::io
