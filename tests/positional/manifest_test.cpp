// The committed fixtures are the ones make_fixtures.py wrote: every file's sha256 matches the
// manifest, and the manifest names the torch that made them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/sha256.hpp"

namespace {

TEST(PositionalFixtures, ManifestChecksumsMatchTheFiles) {
  const auto dir = std::filesystem::path(QKV_SOURCE_DIR) / "tests/positional/fixtures";
  std::ifstream in(dir / "manifest.json");
  ASSERT_TRUE(in) << dir;
  const auto manifest = nlohmann::json::parse(in);
  EXPECT_EQ(manifest.at("torch").get<std::string>().rfind("1.13", 0), 0u) << manifest.at("torch");
  size_t files = 0;
  for (const auto& [name, sha] : manifest.at("sha256").items()) {
    ++files;
    EXPECT_EQ(qkv::io::sha256_file(dir / name), sha.get<std::string>()) << name;
  }
  for (const auto& c : manifest.at("cases"))
    for (const auto& [key, name] : c.at("files").items())
      EXPECT_TRUE(manifest.at("sha256").contains(name.get<std::string>())) << name;
  EXPECT_GT(files, 20u);
}

}  // namespace
