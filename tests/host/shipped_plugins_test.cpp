// Every plugin the build ships loads in the host: no refusal, no duplicate name, and each can
// be listed the way `qkvd plugins` prints it.
#include "host/plugin_registry.hpp"
#include "host/plugin_reports.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

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

}  // namespace
}  // namespace qkv::host
