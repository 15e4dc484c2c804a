// The positional math (core libraries) against the PyTorch fixtures of make_fixtures.py.
#include <gtest/gtest.h>

#include "fixtures.hpp"
#include "learned.hpp"
#include "rope.hpp"
#include "sinusoidal.hpp"

namespace {

using qkv::test::expect_close;
using qkv::test::positional_cases;

TEST(PositionalCoreParity, SinusoidalMatchesTorch) {
  for (const auto& c : positional_cases("sinusoidal")) {
    std::vector<int64_t> shape;
    auto x = c.floats("x", &shape);
    auto pos = c.ints("positions");
    const auto dim = static_cast<uint32_t>(shape.at(1));
    qkv::positional::Sinusoidal pe(c.config.at("base").get<double>());
    pe.add(x.data(), dim, dim, pos);
    expect_close(x, c.floats("expected"), c.name);

    // The PE rows alone, exactly as the tutorial's table (zeros + PE).
    std::vector<float> zeros(x.size(), 0.0f);
    pe.add(zeros.data(), dim, dim, pos);
    expect_close(zeros, c.floats("pe"), c.name + " (PE only)");
  }
}

TEST(PositionalCoreParity, RopeMatchesTorchBothLayouts) {
  size_t layouts_seen[2] = {0, 0};
  for (const auto& c : positional_cases("rope")) {
    std::vector<int64_t> shape;
    auto x = c.floats("x", &shape);
    auto pos = c.ints("positions");
    const auto heads = static_cast<uint32_t>(shape.at(1));
    const auto head_dim = static_cast<uint32_t>(shape.at(2));
    auto layout = qkv::positional::parse_rope_layout(c.config.at("layout").get<std::string>());
    ++layouts_seen[layout == qkv::positional::RopeLayout::neox ? 0 : 1];
    qkv::positional::Rope rope(layout, c.config.at("base").get<double>(),
                               c.config.at("rotary_fraction").get<double>());
    rope.rotate(x.data(), heads, head_dim, size_t{heads} * head_dim, pos);
    expect_close(x, c.floats("expected"), c.name);
  }
  EXPECT_GT(layouts_seen[0], 0u);
  EXPECT_GT(layouts_seen[1], 0u);
}

TEST(PositionalCoreParity, LearnedMatchesTorchEmbedding) {
  for (const auto& c : positional_cases("learned")) {
    std::vector<int64_t> table_shape, x_shape;
    auto table = c.floats("table", &table_shape);
    auto x = c.floats("x", &x_shape);
    qkv::positional::LearnedTable t("wpe.weight", table.data(), table_shape[0], table_shape[1]);
    const auto dim = static_cast<uint32_t>(x_shape.at(1));
    t.add(x.data(), dim, dim, c.ints("positions"));
    expect_close(x, c.floats("expected"), c.name);
  }
}

// Row strides wider than the row (a view into a larger buffer) leave the gap alone.
TEST(PositionalCoreParity, RopeHonoursRowStride) {
  const auto c = positional_cases("rope").front();
  std::vector<int64_t> shape;
  auto x = c.floats("x", &shape);
  auto pos = c.ints("positions");
  const auto heads = static_cast<uint32_t>(shape[1]), head_dim = static_cast<uint32_t>(shape[2]);
  const size_t row = size_t{heads} * head_dim, stride = row + 7;
  std::vector<float> wide(pos.size() * stride, -3.5f);
  for (size_t t = 0; t < pos.size(); ++t)
    std::copy_n(x.begin() + t * row, row, wide.begin() + t * stride);
  qkv::positional::Rope rope(
      qkv::positional::parse_rope_layout(c.config.at("layout").get<std::string>()),
      c.config.at("base").get<double>(), c.config.at("rotary_fraction").get<double>());
  rope.rotate(wide.data(), heads, head_dim, stride, pos);
  auto expected = c.floats("expected");
  std::vector<float> packed;
  for (size_t t = 0; t < pos.size(); ++t) {
    packed.insert(packed.end(), wide.begin() + t * stride, wide.begin() + t * stride + row);
    for (size_t g = row; g < stride; ++g) EXPECT_EQ(wide[t * stride + g], -3.5f);
  }
  expect_close(packed, expected, c.name + " (strided)");
}

}  // namespace
