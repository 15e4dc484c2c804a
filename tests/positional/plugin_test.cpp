// The real plugin libraries, loaded by the host's PluginRegistry and configured through YAML,
// against the same PyTorch fixtures; plus the error codes the ABI promises.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <string>

#include "fixtures.hpp"
#include "host/plugin_error.hpp"
#include "host/plugin_instance.hpp"
#include "host/plugin_registry.hpp"
#include "host/positional_handle.hpp"

namespace {

using qkv::test::expect_close;
using qkv::test::positional_cases;

class PositionalPlugins : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"positional-sinusoidal", "positional-learned", "positional-rope"}) {
      auto file = std::filesystem::path(QKV_PLUGIN_DIR) / ("qkv_" + std::string(name) + ".so");
      ASSERT_TRUE(registry_.load_file(file)) << registry_.errors().back();
    }
  }

  qkv::host::PositionalHandle make(const std::string& name, const std::string& yaml,
                                   qkv::host::TensorLookup lookup = {}) {
    const auto& plugin = registry_.require(QKV_KIND_POSITIONAL, name);
    return qkv::host::PositionalHandle(
        qkv::host::create_instance(plugin, YAML::Load(yaml), ".", "test.yaml", lookup));
  }

  qkv::host::PluginRegistry registry_;
};

TEST_F(PositionalPlugins, SinusoidalMatchesTorch) {
  for (const auto& c : positional_cases("sinusoidal")) {
    auto pe = make("positional-sinusoidal", "{base: " + c.config.at("base").dump() + "}");
    EXPECT_EQ(pe.info().mode, QKV_POSITIONAL_ADDITIVE);
    std::vector<int64_t> shape;
    auto x = c.floats("x", &shape);
    const auto dim = static_cast<uint32_t>(shape[1]);
    pe.add(x.data(), dim, dim, c.ints("positions"));
    expect_close(x, c.floats("expected"), c.name);
  }
}

TEST_F(PositionalPlugins, RopeMatchesTorch) {
  for (const auto& c : positional_cases("rope")) {
    auto rope = make("positional-rope",
                     "{layout: " + c.config.at("layout").get<std::string>() +
                         ", base: " + c.config.at("base").dump() +
                         ", rotary_fraction: " + c.config.at("rotary_fraction").dump() + "}");
    EXPECT_TRUE(rope.rotary());
    std::vector<int64_t> shape;
    auto x = c.floats("x", &shape);
    const auto heads = static_cast<uint32_t>(shape[1]), head_dim = static_cast<uint32_t>(shape[2]);
    rope.rotate(x.data(), heads, head_dim, size_t{heads} * head_dim, c.ints("positions"));
    expect_close(x, c.floats("expected"), c.name);
  }
}

TEST_F(PositionalPlugins, LearnedReadsTheHostTensorAndMatchesTorch) {
  const auto c = positional_cases("learned").front();
  std::vector<int64_t> tshape, xshape;
  auto table = c.floats("table", &tshape);
  qkv::host::TensorLookup lookup = [&](std::string_view name) -> std::optional<qkv_tensor_view> {
    if (name != "wpe.weight") return std::nullopt;
    qkv_tensor_view v{};
    v.struct_size = sizeof v;
    v.ndim = 2;
    v.shape[0] = tshape[0];
    v.shape[1] = tshape[1];
    v.data = table.data();
    return v;
  };
  auto pe = make("positional-learned", "{tensor: wpe.weight}", lookup);
  EXPECT_EQ(pe.info().max_positions, tshape[0]);
  EXPECT_EQ(pe.info().dim, static_cast<uint32_t>(tshape[1]));
  auto x = c.floats("x", &xshape);
  const auto dim = static_cast<uint32_t>(xshape[1]);
  pe.add(x.data(), dim, dim, c.ints("positions"));
  expect_close(x, c.floats("expected"), c.name);

  // A position past the table: OUT_OF_RANGE naming the position and the table size.
  std::vector<int32_t> past{0, static_cast<int32_t>(tshape[0])};
  try {
    pe.add(x.data(), dim, dim, past);
    FAIL() << "no error for a position past the table";
  } catch (const qkv::PluginError& e) {
    EXPECT_EQ(e.code(), QKV_ERR_OUT_OF_RANGE);
    EXPECT_NE(std::string(e.what()).find("position 32"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("32 positions"), std::string::npos) << e.what();
  }
  // Wrong width: INVALID_ARGUMENT.
  try {
    pe.add(x.data(), dim - 1, dim, std::span(past.data(), 1));
    FAIL() << "no error for a dim mismatch";
  } catch (const qkv::PluginError& e) {
    EXPECT_EQ(e.code(), QKV_ERR_INVALID_ARGUMENT) << e.what();
  }
  // A missing tensor or key fails at creation, with the name in the message.
  try {
    make("positional-learned", "{tensor: wte.weight}", lookup);
    FAIL() << "created with a missing tensor";
  } catch (const qkv::PluginError& e) {
    EXPECT_NE(std::string(e.what()).find("wte.weight"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make("positional-learned", "{}", lookup), qkv::PluginError);
}

TEST_F(PositionalPlugins, ConfigErrorsAndWrongKindCalls) {
  for (const char* yaml : {"{layout: llama}", "{rotary_fraction: 0}", "{base: abc}",
                           "{head_dim: 6, rotary_fraction: 0.5}"}) {
    try {
      make("positional-rope", yaml);
      ADD_FAILURE() << "accepted " << yaml;
    } catch (const qkv::PluginError& e) {
      EXPECT_EQ(e.code(), QKV_ERR_CONFIG) << yaml << ": " << e.what();
    }
  }
  try {  // positional-sinusoidal's layout: interleaved | half
    make("positional-sinusoidal", "{layout: halves}");
    ADD_FAILURE() << "accepted layout: halves";
  } catch (const qkv::PluginError& e) {
    EXPECT_EQ(e.code(), QKV_ERR_CONFIG) << e.what();
    EXPECT_NE(std::string(e.what()).find("interleaved or half, found 'halves'"), std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(make("positional-sinusoidal", "{layout: half}"));
  auto rope = make("positional-rope", "{}");
  std::vector<float> x(8, 1.0f);
  std::vector<int32_t> pos{0};
  try {
    rope.add(x.data(), 8, 8, pos);
    FAIL() << "rotary plugin accepted add";
  } catch (const qkv::PluginError& e) {
    EXPECT_EQ(e.code(), QKV_ERR_UNSUPPORTED);
  }
  auto sin = make("positional-sinusoidal", "{max_positions: 4}");
  pos = {4};
  try {
    sin.add(x.data(), 8, 8, pos);
    FAIL() << "position past max_positions accepted";
  } catch (const qkv::PluginError& e) {
    EXPECT_EQ(e.code(), QKV_ERR_OUT_OF_RANGE) << e.what();
  }
  EXPECT_EQ(x, std::vector<float>(8, 1.0f));
}

}  // namespace
