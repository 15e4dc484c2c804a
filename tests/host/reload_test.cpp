// Reload: a plugin file replaced on disk must load as a new image. dlopen returns the image it
// already has for a known path, so LoadMode::private_copy loads a private copy instead.
#include <yaml-cpp/yaml.h>

#include "host/plugin_instance.hpp"
#include "host/plugin_registry.hpp"
#include "host/tokenizer_handle.hpp"
#include "test_plugins.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

namespace qkv::host {
namespace {

namespace fs = std::filesystem;
using test::plugin_file;

class HostReload : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "qkv-host-reload-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    fs::create_directory(dir_ / "tmp");
    old_tmpdir_ = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "";
    ::setenv("TMPDIR", (dir_ / "tmp").c_str(), 1);  // private copies go here
  }
  void TearDown() override {
    if (old_tmpdir_.empty())
      ::unsetenv("TMPDIR");
    else
      ::setenv("TMPDIR", old_tmpdir_.c_str(), 1);
    fs::remove_all(dir_);
  }
  // No private copy is left: $TMPDIR holds at most this process's empty qkv-<pid> folder.
  bool no_copies_left() const {
    for (auto& e : fs::directory_iterator(dir_ / "tmp"))
      if (e.path().filename() != "qkv-" + std::to_string(::getpid()) || !fs::is_empty(e.path()))
        return false;
    return true;
  }
  // Replaces `target` the way installers do: write aside, rename over (a new inode).
  void install(const fs::path& from, const fs::path& target) {
    fs::copy_file(from, target.string() + ".new", fs::copy_options::overwrite_existing);
    fs::rename(target.string() + ".new", target);
  }
  fs::path dir_;
  std::string old_tmpdir_;
};

TEST_F(HostReload, ReplacedFileLoadsAsANewImageFromAPrivateCopy) {
  const fs::path live = dir_ / "qkv_live.so";
  install(plugin_file("test_bytes"), live);
  PluginRegistry first;
  ASSERT_TRUE(first.load_file(live));
  ASSERT_NE(first.find(QKV_KIND_TOKENIZER, "test-bytes"), nullptr);

  install(plugin_file("test_ramp"), live);  // the "upgrade", while the old image is loaded

  // Same path again: the dynamic loader hands back the old image (why private copies exist).
  PluginRegistry stale;
  ASSERT_TRUE(stale.load_file(live));
  EXPECT_NE(stale.find(QKV_KIND_TOKENIZER, "test-bytes"), nullptr);

  PluginRegistry fresh;
  ASSERT_TRUE(fresh.load_file(live, LoadMode::private_copy));
  const LoadedPlugin* p = fresh.find(QKV_KIND_POSITIONAL, "test-ramp");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->file, live);       // reports name the real file, not the copy
  EXPECT_TRUE(no_copies_left());  // the copy's directory entry is gone
}

TEST_F(HostReload, TwoPrivateCopiesAreTwoImagesWithTheirOwnState) {
  PluginRegistry a, b;
  ASSERT_TRUE(a.load_file(plugin_file("test_bytes"), LoadMode::private_copy));
  ASSERT_TRUE(b.load_file(plugin_file("test_bytes"), LoadMode::private_copy));
  const auto& pa = a.require(QKV_KIND_TOKENIZER, "test-bytes");
  const auto& pb = b.require(QKV_KIND_TOKENIZER, "test-bytes");
  EXPECT_NE(pa.descriptor, pb.descriptor);
  TokenizerHandle ta(create_instance(pa, YAML::Node(), dir_));
  TokenizerHandle tb(create_instance(pb, YAML::Node(), dir_));
  // The plugin counts instances in a global: one each, as the images share nothing.
  EXPECT_EQ(ta.token_to_id("#instances"), 1);
  EXPECT_EQ(tb.token_to_id("#instances"), 1);
}

TEST_F(HostReload, InstancesKeepTheirLibraryAfterTheRegistryIsGone) {
  std::optional<TokenizerHandle> tok;
  {
    PluginRegistry registry;
    ASSERT_TRUE(registry.load_file(plugin_file("test_bytes"), LoadMode::private_copy));
    tok.emplace(
        create_instance(registry.require(QKV_KIND_TOKENIZER, "test-bytes"), YAML::Node(), dir_));
  }
  EXPECT_EQ(tok->decode(tok->encode("still here")), "still here");
}

TEST_F(HostReload, BrokenPrivateCopyNamesTheOriginalFile) {
  PluginRegistry registry;
  EXPECT_FALSE(registry.load_file(plugin_file("bad_unresolved"), LoadMode::private_copy));
  ASSERT_EQ(registry.errors().size(), 1u);
  EXPECT_EQ(registry.errors()[0].find(plugin_file("bad_unresolved").string() + ": "), 0u);
  EXPECT_EQ(registry.errors()[0].find((dir_ / "tmp").string()), std::string::npos);
  EXPECT_TRUE(no_copies_left());
}

// kill -9 between copying and loading leaves a copy in $TMPDIR/qkv-<pid>/: the next process
// that makes private copies there removes it once that pid is dead, never a live process's.
TEST_F(HostReload, CopiesOfDeadProcessesAreRemovedAndLiveOnesKept) {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  const fs::path dead = dir_ / "tmp" / ("qkv-" + std::to_string(child));
  const fs::path live = dir_ / "tmp" / ("qkv-" + std::to_string(::getppid()));
  const fs::path other = dir_ / "tmp" / "qkv-notapid";
  for (auto& d : {dead, live, other}) {
    fs::create_directories(d / "Ab12Cd");
    std::ofstream(d / "Ab12Cd" / "qkv_test-bytes.so") << "left behind";
  }
  PluginRegistry registry;
  ASSERT_TRUE(registry.load_file(plugin_file("test_bytes"), LoadMode::private_copy));
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live / "Ab12Cd" / "qkv_test-bytes.so"));
  EXPECT_TRUE(fs::exists(other / "Ab12Cd"));
}

TEST_F(HostReload, NonLibraryFileIsRefusedWithTheLoaderCause) {
  const fs::path junk = dir_ / "qkv_junk.so";
  {
    std::ofstream out(junk);
    out << "this is not an ELF file, but long enough to have a header...............\n";
  }
  PluginRegistry registry;
  EXPECT_FALSE(registry.load_file(junk));
  ASSERT_EQ(registry.errors().size(), 1u);
  EXPECT_EQ(registry.errors()[0].rfind(junk.string() + ": cannot be loaded: invalid ELF header", 0),
            0u)
      << registry.errors()[0];
}

}  // namespace
}  // namespace qkv::host
