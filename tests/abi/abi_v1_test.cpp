// The current host must load and run a plugin built against the frozen v1 headers.
#include <yaml-cpp/yaml.h>

#include "host/plugin_registry.hpp"
#include "host/tokenizer_handle.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace qkv::host {
namespace {

using ::testing::ElementsAre;

TEST(AbiV1, FrozenPluginLoadsAndRunsInTheCurrentHost) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.load_file(QKV_ABI_V1_PLUGIN)) << registry.errors().at(0);
  const LoadedPlugin& p = registry.require(QKV_KIND_TOKENIZER, "abi-v1-frozen");
  EXPECT_EQ(p.abi_major, 1);
  EXPECT_EQ(p.abi_minor, 0);

  YAML::Node config = YAML::Load(
      "name: x\n"
      "base: 300\n"
      "data: ../data/file.bin\n"
      "words: [alpha, beta]\n");
  TokenizerHandle tok(create_instance(p, config, "/srv/qkv/pipelines", "/srv/p.yaml"));
  std::vector<int32_t> ids;
  std::vector<uint32_t> offsets;
  tok.encode("ab", encode_options(), ids, &offsets);
  EXPECT_THAT(ids, ElementsAre(300 + 'a', 300 + 'b'));
  EXPECT_THAT(offsets, ElementsAre(0, 1, 1, 2));
  EXPECT_EQ(tok.decode(ids), "ab");
  EXPECT_EQ(tok.info().vocab_size, 556u);
  EXPECT_EQ(tok.token_to_id("#words"), 2);
  EXPECT_EQ(tok.token_to_id("beta"), 1);
  EXPECT_EQ(tok.token_to_id("#where-ok"), 1);
  EXPECT_EQ(tok.token_to_id("#data-ok"), 1);
  EXPECT_THROW(tok.decode(std::vector<int32_t>{5}), PluginError);
}

}  // namespace
}  // namespace qkv::host
