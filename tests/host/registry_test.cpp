// Loading and refusing plugins: every broken plugin gets one line naming its file and cause,
// and the good ones still load in the same registry.
#include "host/plugin_error.hpp"
#include "host/plugin_registry.hpp"
#include "host/plugin_reports.hpp"
#include "test_plugins.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <vector>

namespace qkv::host {
namespace {

using test::plugin_dir;
using test::plugin_file;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// The refusal message of `file` in `registry`, or "" when it loaded.
std::string refusal(const PluginRegistry& registry, const std::string& name) {
  for (const auto& r : registry.reports())
    if (r.file == plugin_file(name)) return r.loaded ? "" : r.error;
  return "<no report for " + name + ">";
}

std::string refusal_alone(const std::string& name) {
  PluginRegistry registry;
  EXPECT_FALSE(registry.load_file(plugin_file(name)));
  EXPECT_EQ(registry.reports().size(), 1u);
  return refusal(registry, name);
}

TEST(HostRegistry, LoadsAGoodPluginAndFindsItByKindAndName) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.load_file(plugin_file("test_bytes")));
  const LoadedPlugin* p = registry.find(QKV_KIND_TOKENIZER, "test-bytes");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->version, "1.0.0");
  EXPECT_EQ(p->abi_major, QKV_ABI_MAJOR);
  EXPECT_TRUE(p->thread_safe());
  EXPECT_EQ(registry.find(QKV_KIND_ATTENTION, "test-bytes"), nullptr);
  EXPECT_EQ(registry.find(QKV_KIND_TOKENIZER, "test-byte"), nullptr);
  ASSERT_EQ(registry.reports().size(), 1u);
  EXPECT_TRUE(registry.reports()[0].loaded);
  EXPECT_TRUE(registry.reports()[0].error.empty());
}

TEST(HostRegistry, NoEntrySymbol) {
  EXPECT_THAT(refusal_alone("bad_no_entry"),
              AllOf(HasSubstr(plugin_file("bad_no_entry").string() + ": "),
                    HasSubstr("no entry symbol 'qkv_plugin_entry'"), HasSubstr("QKV_PLUGIN")));
}

TEST(HostRegistry, WrongMajorNamesBothVersions) {
  EXPECT_THAT(refusal_alone("bad_wrong_major"),
              AllOf(HasSubstr(plugin_file("bad_wrong_major").string()),
                    HasSubstr("built for ABI 2." + std::to_string(QKV_ABI_MINOR)),
                    HasSubstr("this host speaks ABI " + std::to_string(QKV_ABI_MAJOR) + "." +
                              std::to_string(QKV_ABI_MINOR)),
                    HasSubstr("rebuild")));
}

TEST(HostRegistry, NewerMinorNamesBothVersions) {
  const std::string plugin_abi = "1." + std::to_string(QKV_ABI_MINOR + 1);
  EXPECT_THAT(refusal_alone("bad_newer_minor"),
              AllOf(HasSubstr(plugin_file("bad_newer_minor").string()),
                    HasSubstr("built for ABI " + plugin_abi), HasSubstr("newer than this host"),
                    HasSubstr("upgrade qkv")));
}

TEST(HostRegistry, BadDescriptorStructSize) {
  EXPECT_THAT(refusal_alone("bad_struct_size"),
              AllOf(HasSubstr(plugin_file("bad_struct_size").string()),
                    HasSubstr("bad descriptor struct_size 24")));
}

TEST(HostRegistry, BadKindTableStructSize) {
  EXPECT_THAT(refusal_alone("bad_api_size"), AllOf(HasSubstr(plugin_file("bad_api_size").string()),
                                                   HasSubstr("bad tokenizer table struct_size 8")));
}

TEST(HostRegistry, UnknownKind) {
  EXPECT_THAT(refusal_alone("bad_unknown_kind"),
              AllOf(HasSubstr(plugin_file("bad_unknown_kind").string()),
                    HasSubstr("unknown plugin kind 42")));
}

TEST(HostRegistry, NullField) {
  EXPECT_THAT(
      refusal_alone("bad_null_field"),
      AllOf(HasSubstr(plugin_file("bad_null_field").string()), HasSubstr("'version' is NULL")));
}

TEST(HostRegistry, EntryReturningNull) {
  EXPECT_THAT(refusal_alone("bad_null_descriptor"),
              AllOf(HasSubstr(plugin_file("bad_null_descriptor").string()),
                    HasSubstr("returned no descriptor")));
}

TEST(HostRegistry, EntryThrowing) {
  EXPECT_THAT(
      refusal_alone("bad_entry_throws"),
      AllOf(HasSubstr(plugin_file("bad_entry_throws").string()), HasSubstr("threw an exception")));
}

TEST(HostRegistry, UnresolvedSymbolIsCaughtAtLoad) {
  EXPECT_THAT(refusal_alone("bad_unresolved"),
              AllOf(HasSubstr(plugin_file("bad_unresolved").string()),
                    HasSubstr(": cannot be loaded: undefined symbol: "
                              "qkv_test_function_nobody_defines; rebuild"),
                    Not(HasSubstr("Bad file descriptor"))));
}

TEST(HostRegistry, DuplicateNameNamesBothFiles) {
  PluginRegistry registry;
  EXPECT_TRUE(registry.load_file(plugin_file("dup_a")));
  EXPECT_FALSE(registry.load_file(plugin_file("dup_b")));
  EXPECT_THAT(refusal(registry, "dup_b"),
              AllOf(HasSubstr(plugin_file("dup_b").string() + ": duplicate tokenizer plugin "
                                                              "name 'test-dup'"),
                    HasSubstr("already loaded from " + plugin_file("dup_a").string())));
  EXPECT_EQ(registry.find(QKV_KIND_TOKENIZER, "test-dup")->file, plugin_file("dup_a"));
}

TEST(HostRegistry, MissingFileAndDirectoryAreReportedNotThrown) {
  PluginRegistry registry;
  EXPECT_FALSE(registry.load_file(plugin_dir() / "qkv_nope.so"));
  EXPECT_EQ(registry.load_directory(plugin_dir() / "no-such-dir"), 0u);
  ASSERT_EQ(registry.errors().size(), 2u);
  EXPECT_THAT(registry.errors()[0], HasSubstr("qkv_nope.so: no such plugin file"));
  EXPECT_THAT(registry.errors()[1], HasSubstr("no-such-dir: plugin directory does not exist"));
}

TEST(HostRegistry, WholeDirectoryRefusesTheBadAndLoadsTheGood) {
  PluginRegistry registry;
  registry.load_directory(plugin_dir());
  for (const char* bad : {"bad_no_entry", "bad_wrong_major", "bad_newer_minor", "bad_struct_size",
                          "bad_api_size", "bad_unknown_kind", "bad_null_field", "bad_unresolved",
                          "bad_null_descriptor", "bad_entry_throws", "dup_b"}) {
    const std::string message = refusal(registry, bad);
    EXPECT_THAT(message, HasSubstr(plugin_file(bad).string() + ": ")) << bad;
    EXPECT_THAT(message, Not(HasSubstr("\n"))) << bad;
  }
  EXPECT_NE(registry.find(QKV_KIND_TOKENIZER, "test-bytes"), nullptr);
  EXPECT_NE(registry.find(QKV_KIND_TOKENIZER, "test-bytes-serial"), nullptr);
  EXPECT_NE(registry.find(QKV_KIND_POSITIONAL, "test-ramp"), nullptr);
  EXPECT_NE(registry.find(QKV_KIND_ATTENTION, "test-scale-v"), nullptr);
  EXPECT_NE(registry.find(QKV_KIND_TOKENIZER, "test-raw"), nullptr);
  EXPECT_NE(registry.find(QKV_KIND_TOKENIZER, "test-create-error"), nullptr);
  EXPECT_NE(registry.find(QKV_KIND_ATTENTION, "test-create-throws"), nullptr);
  EXPECT_EQ(registry.list(QKV_KIND_POSITIONAL).size(), 1u);
  EXPECT_EQ(registry.errors().size(), 11u);

  std::ostringstream printed;
  print_plugin_reports(printed, registry);
  EXPECT_THAT(printed.str(), HasSubstr("refused (11):"));
  EXPECT_THAT(printed.str(), HasSubstr("test-ramp"));
  EXPECT_THAT(printed.str(), HasSubstr("undefined symbol"));
}

TEST(HostRegistry, LoadNamedOpensOnlyThePluginsOwnFile) {
  PluginRegistry registry;
  const std::vector<std::filesystem::path> dirs{plugin_dir() / "no-such-dir", plugin_dir()};
  // test-raw is in qkv_test_raw.so ('-' spelled '_'): that file alone is opened.
  const LoadedPlugin* p = registry.load_named(dirs, QKV_KIND_TOKENIZER, "test-raw");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->file, plugin_file("test_raw"));
  ASSERT_EQ(registry.reports().size(), 1u);
  EXPECT_TRUE(registry.reports()[0].loaded);
  // Asked again: found, nothing more opened.
  EXPECT_EQ(registry.load_named(dirs, QKV_KIND_TOKENIZER, "test-raw"), p);
  EXPECT_EQ(registry.reports().size(), 1u);
}

TEST(HostRegistry, LoadNamedFallsBackToEveryPluginWhenNoFileIsNamedSo) {
  PluginRegistry registry;
  const std::vector<std::filesystem::path> dirs{plugin_dir()};
  // test-dup lives in qkv_dup_a.so and qkv_dup_b.so: only the whole folder finds it.
  const LoadedPlugin* p = registry.load_named(dirs, QKV_KIND_TOKENIZER, "test-dup");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->file, plugin_file("dup_a"));
  EXPECT_NE(registry.find(QKV_KIND_POSITIONAL, "test-ramp"), nullptr);
  EXPECT_EQ(registry.errors().size(), 11u);  // the folder's refusals, each file tried once
}

TEST(HostRegistry, LoadNamedOfAnotherKindTriesEveryFileOnce) {
  PluginRegistry registry;
  const std::vector<std::filesystem::path> dirs{plugin_dir()};
  // qkv_test_raw.so is a tokenizer: no attention plugin test-raw anywhere.
  EXPECT_EQ(registry.load_named(dirs, QKV_KIND_ATTENTION, "test-raw"), nullptr);
  EXPECT_NE(registry.find(QKV_KIND_TOKENIZER, "test-raw"), nullptr);
  size_t raw_reports = 0;
  for (const auto& r : registry.reports()) raw_reports += r.file == plugin_file("test_raw");
  EXPECT_EQ(raw_reports, 1u);
  EXPECT_EQ(registry.errors().size(), 11u);
}

TEST(HostRegistry, RequireListsWhatIsAvailable) {
  PluginRegistry registry;
  registry.load_file(plugin_file("test_bytes"));
  try {
    registry.require(QKV_KIND_TOKENIZER, "tokenizer-nope");
    FAIL() << "require did not throw";
  } catch (const PluginError& e) {
    EXPECT_EQ(e.code(), QKV_ERR_CONFIG);
    EXPECT_THAT(e.what(), AllOf(HasSubstr("'tokenizer-nope'"), HasSubstr("available: test-bytes")));
  }
}

}  // namespace
}  // namespace qkv::host
