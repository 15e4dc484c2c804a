// Bad arguments and out-of-range positions give clear errors and leave the data untouched.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "learned.hpp"
#include "rope.hpp"
#include "sinusoidal.hpp"

namespace {

using namespace qkv::positional;

template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(PositionalErrors, LearnedPositionPastTableNamesPositionAndSize) {
  std::vector<float> table(4 * 3, 1.0f);
  LearnedTable t("wpe.weight", table.data(), 4, 3);
  std::vector<float> x(2 * 3, 0.5f);
  std::vector<int32_t> pos{1, 4};
  EXPECT_THROW(t.add(x.data(), 3, 3, pos), std::out_of_range);
  auto msg = message_of([&] { t.add(x.data(), 3, 3, pos); });
  EXPECT_NE(msg.find("position 4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("of 4 positions"), std::string::npos) << msg;
  EXPECT_NE(msg.find("wpe.weight"), std::string::npos) << msg;
  EXPECT_EQ(x, std::vector<float>(6, 0.5f)) << "x must be untouched on error";
  pos = {-1, 0};
  EXPECT_THROW(t.add(x.data(), 3, 3, pos), std::out_of_range);
}

TEST(PositionalErrors, LearnedDimMismatch) {
  std::vector<float> table(4 * 3, 1.0f);
  LearnedTable t("wpe.weight", table.data(), 4, 3);
  std::vector<float> x(8, 0.0f);
  std::vector<int32_t> pos{0, 1};
  auto msg = message_of([&] { t.add(x.data(), 4, 4, pos); });
  EXPECT_NE(msg.find("dim 4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4, 3]"), std::string::npos) << msg;
  EXPECT_THROW(LearnedTable("e", table.data(), 0, 3), std::invalid_argument);
}

TEST(PositionalErrors, SinusoidalBoundsAndConfig) {
  EXPECT_THROW(Sinusoidal(1.0), std::invalid_argument);
  EXPECT_THROW(Sinusoidal(10000.0, -1), std::invalid_argument);
  Sinusoidal pe(10000.0, 16);
  std::vector<float> x(4, 0.0f);
  std::vector<int32_t> pos{16};
  auto msg = message_of([&] { pe.add(x.data(), 4, 4, pos); });
  EXPECT_NE(msg.find("position 16"), std::string::npos) << msg;
  EXPECT_EQ(x, std::vector<float>(4, 0.0f));
  pos = {-5};
  EXPECT_THROW(Sinusoidal().add(x.data(), 4, 4, pos), std::out_of_range);
  pos = {0};
  EXPECT_THROW(Sinusoidal().add(x.data(), 4, 3, pos), std::invalid_argument);  // stride < dim
}

TEST(PositionalErrors, RopeArguments) {
  EXPECT_THROW(parse_rope_layout("llama"), std::invalid_argument);
  EXPECT_THROW(Rope(RopeLayout::neox, 10000.0, 0.0), std::invalid_argument);
  EXPECT_THROW(Rope(RopeLayout::neox, 10000.0, 1.5), std::invalid_argument);
  Rope odd(RopeLayout::neox, 10000.0, 0.5);
  EXPECT_THROW(odd.rotary_dim(6), std::invalid_argument);  // 3 dims cannot be paired
  EXPECT_EQ(odd.rotary_dim(64), 32u);
  Rope rope(RopeLayout::gptj, 10000.0, 1.0, 8);
  std::vector<float> x(2 * 4, 1.0f);
  std::vector<int32_t> pos{3, 8};
  auto msg = message_of([&] { rope.rotate(x.data(), 2, 4, 8, pos); });
  EXPECT_NE(msg.find("position 8"), std::string::npos) << msg;
  EXPECT_EQ(x, std::vector<float>(8, 1.0f));
  pos = {0};
  EXPECT_THROW(rope.rotate(x.data(), 2, 4, 7, std::span(pos.data(), 1)), std::invalid_argument);
}

}  // namespace
