// Every plugin the build ships loads in the host: no refusal, no duplicate name, and each can
// be listed the way `qkvd plugins` prints it; each declares its config keys (ABI 1.1), so a
// misspelled or mistyped key is a configuration error with its file:line:column.
#include <yaml-cpp/yaml.h>

#include "host/config_keys.hpp"
#include "host/plugin_instance.hpp"
#include "host/plugin_registry.hpp"
#include "host/plugin_reports.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include <yaml-cpp/yaml.h>

namespace qkv::host {
namespace {

TEST(HostShippedPlugins, AllLoadWithoutRefusal) {
  PluginRegistry registry;
  const size_t loaded = registry.load_directory(QKV_PLUGIN_DIR);
  std::ostringstream printed;
  print_plugin_reports(printed, registry);
  EXPECT_TRUE(registry.errors().empty()) << printed.str();
  EXPECT_GT(loaded, 0u) << printed.str();
  EXPECT_EQ(loaded, registry.reports().size());
  for (const LoadedPlugin* p : registry.all()) {
    EXPECT_EQ(p->abi_major, QKV_ABI_MAJOR) << p->name;
    EXPECT_FALSE(p->description.empty()) << p->name << " has no description";
    EXPECT_THAT(printed.str(), ::testing::HasSubstr(p->name));
  }
}

TEST(HostShippedPlugins, EachDeclaresItsConfigKeys) {
  PluginRegistry registry;
  registry.load_directory(QKV_PLUGIN_DIR);
  ASSERT_FALSE(registry.all().empty());
  for (const LoadedPlugin* p : registry.all()) {
    EXPECT_EQ(p->abi_minor, QKV_ABI_MINOR) << p->name;
    EXPECT_TRUE(declared_config_keys(*p->descriptor).has_value()) << p->name;
  }
  const LoadedPlugin& wordpiece = registry.require(QKV_KIND_TOKENIZER, "tokenizer-wordpiece");
  EXPECT_TRUE(is_path_key(*wordpiece.descriptor, "vocab"));
  EXPECT_FALSE(is_path_key(*wordpiece.descriptor, "lowercase"));
}

TEST(HostShippedPlugins, AMisspelledOrMistypedKeyIsAConfigErrorWithItsPosition) {
  PluginRegistry registry;
  registry.load_directory(QKV_PLUGIN_DIR);
  using ::testing::AllOf;
  using ::testing::HasSubstr;
  auto create_error = [&](const char* kind_name, qkv_kind kind, const std::string& yaml) {
    try {
      create_instance(registry.require(kind, kind_name), YAML::Load(yaml), "/nonexistent",
                      "/srv/p.yaml");
    } catch (const PluginError& e) {
      EXPECT_EQ(e.code(), QKV_ERR_CONFIG);
      return std::string(e.what());
    }
    return std::string("(created)");
  };
  // Line 2: where the key is. Checked before the plugin runs (no vocab is ever opened).
  EXPECT_THAT(
      create_error("tokenizer-wordpiece", QKV_KIND_TOKENIZER, "vocab: v.txt\nlowercse: true\n"),
      AllOf(HasSubstr("/srv/p.yaml:2:"), HasSubstr("no config key 'lowercse'"),
            HasSubstr("lowercase")));
  EXPECT_THAT(create_error("tokenizer-wordpiece", QKV_KIND_TOKENIZER,
                           "vocab: v.txt\nlowercase: yes please\n"),
              AllOf(HasSubstr("/srv/p.yaml:2:"), HasSubstr("'lowercase' must be true or false"),
                    HasSubstr("found 'yes please'")));
  EXPECT_THAT(
      create_error("positional-rope", QKV_KIND_POSITIONAL, "base: 10000\nmax_position: 8\n"),
      HasSubstr("no config key 'max_position'"));
  EXPECT_THAT(create_error("positional-sinusoidal", QKV_KIND_POSITIONAL, "max_positions: 1.5\n"),
              HasSubstr("'max_positions' must be an integer"));
  EXPECT_THAT(create_error("attention-flash", QKV_KIND_ATTENTION, "block: 64\n"),
              AllOf(HasSubstr("/srv/p.yaml:1:"), HasSubstr("no config key 'block'"),
                    HasSubstr("its keys: none")));
  // Declared keys of the right type pass (the sinusoidal table needs nothing else).
  EXPECT_EQ(create_error("positional-sinusoidal", QKV_KIND_POSITIONAL,
                         "base: 10000\nmax_positions: 64\ndim: 0\n"),
            "(created)");
}

}  // namespace
}  // namespace qkv::host
