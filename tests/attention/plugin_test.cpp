// The real plugin libraries, loaded through the host's PluginRegistry, against the fixtures:
// what the daemon will run is what the core-library tests checked.
#include <yaml-cpp/yaml.h>

#include "attention_case.hpp"
#include "host/attention_handle.hpp"
#include "host/plugin_error.hpp"
#include "host/plugin_instance.hpp"
#include "host/plugin_registry.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace qkv::attention::test {
namespace {

using ::testing::HasSubstr;

class AttentionPlugins : public ::testing::TestWithParam<const char*> {};

TEST_P(AttentionPlugins, LoadsAndMatchesTorchFixtures) {
  const std::string name = GetParam();
  host::PluginRegistry registry;
  ASSERT_TRUE(registry.load_file(std::filesystem::path(QKV_PLUGIN_DIR) / ("qkv_" + name + ".so")))
      << ::testing::PrintToString(registry.errors());
  const host::LoadedPlugin& plugin = registry.require(QKV_KIND_ATTENTION, name);
  EXPECT_TRUE(plugin.thread_safe());
  host::AttentionHandle handle(host::create_instance(plugin, YAML::Node(), QKV_SOURCE_DIR));
  const AttentionFn impl = [&](const qkv_attention_args& a) { handle.forward(a); };
  for (const char* fixture : {"gqa", "probs", "causal_long_q", "cross"}) {
    const Case c = load_fixture(fixture);
    SCOPED_TRACE(c.describe());
    const Result r = run(impl, c, !c.expected_probs.empty());
    EXPECT_EQ(compare(r.out, c.expected_out, "out"), "");
    if (!c.expected_probs.empty()) {
      EXPECT_EQ(compare(r.probs, c.expected_probs, "probs"), "");
    }
  }
  // A contract violation comes back as an ABI error, not a crash.
  std::vector<int32_t> cu{0, 1};
  std::vector<float> x(6, 0.0f);
  qkv_attention_args a{};
  a.batch = 1;
  a.heads_q = 3;
  a.heads_kv = 2;
  a.head_dim = 1;
  a.cu_seqlens_q = a.cu_seqlens_k = cu.data();
  a.q = a.k = a.v = a.out = x.data();
  try {
    handle.forward(a);
    ADD_FAILURE() << "heads_q=3, heads_kv=2 was accepted";
  } catch (const PluginError& e) {
    EXPECT_EQ(e.code(), QKV_ERR_INVALID_ARGUMENT);
    EXPECT_THAT(e.what(), HasSubstr("not a multiple of heads_kv"));
  }
}

INSTANTIATE_TEST_SUITE_P(Both, AttentionPlugins,
                         ::testing::Values("attention-reference", "attention-flash"),
                         [](const auto& info) {
                           return std::string(info.param) == "attention-flash" ? "flash"
                                                                               : "reference";
                         });

}  // namespace
}  // namespace qkv::attention::test
