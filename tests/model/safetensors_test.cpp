// The safetensors reader against byte images written out by hand, and its error paths.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "model/error.hpp"
#include "model/safetensors.hpp"

using namespace qkv::model;

namespace {

std::vector<std::byte> image(const std::string& json, const std::vector<uint8_t>& data,
                             uint64_t declared = ~uint64_t{0}) {
  const uint64_t n = declared == ~uint64_t{0} ? json.size() : declared;
  std::vector<std::byte> out;
  for (int i = 0; i < 8; ++i) out.push_back(std::byte((n >> (8 * i)) & 0xff));
  for (char c : json) out.push_back(std::byte(c));
  for (uint8_t b : data) out.push_back(std::byte(b));
  return out;
}

std::string error_of(const std::vector<std::byte>& img) {
  try {
    parse_safetensors(img, "x.safetensors");
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// Hand-checked: "a" is F32 [2] = {1.0, -2.0}: 00 00 80 3f, 00 00 00 c0.
// "b" is F16 [1,2] = {0.5, -inf}: 00 38, 00 fc. "c" is BF16 [1] = 3.0: 40 40.
TEST(Safetensors, HandWrittenBytes) {
  const std::string json = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("b":{"dtype":"F16","shape":[1,2],"data_offsets":[8,12]},)"
                           R"("c":{"dtype":"BF16","shape":[1],"data_offsets":[12,14]},)"
                           R"("__metadata__":{"format":"pt"}}  )";
  const std::vector<uint8_t> data = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00,
                                     0xc0, 0x00, 0x38, 0x00, 0xfc, 0x40, 0x40};
  auto img = image(json, data);
  const auto path = std::filesystem::path(::testing::TempDir()) / "hand.safetensors";
  {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(img.data()), static_cast<std::streamsize>(img.size()));
  }
  auto file = SafetensorsFile::open(path);
  ASSERT_EQ(file.header().tensors.size(), 3u);
  EXPECT_EQ(file.header().metadata.at("format"), "pt");
  EXPECT_EQ(file.header().data_start, 8 + json.size());
  const auto* a = file.find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(file.to_f32(*a), (std::vector<float>{1.0f, -2.0f}));
  const auto* b = file.find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{1, 2}));
  auto bv = file.to_f32(*b);
  EXPECT_EQ(bv[0], 0.5f);
  EXPECT_TRUE(std::isinf(bv[1]) && bv[1] < 0);
  EXPECT_EQ(file.to_f32(*file.find("c")), (std::vector<float>{3.0f}));
  EXPECT_EQ(file.find("d"), nullptr);
}

TEST(Safetensors, HalfSubnormalsAndNan) {
  // 0x0001 = 2^-24 (smallest subnormal), 0x03ff = 1023 * 2^-24, 0x7e00 = nan, 0x8000 = -0.
  const uint8_t raw[] = {0x01, 0x00, 0xff, 0x03, 0x00, 0x7e, 0x00, 0x80};
  float out[4];
  convert_to_f32(DType::F16, std::as_bytes(std::span(raw)), out);
  EXPECT_EQ(out[0], std::ldexp(1.0f, -24));
  EXPECT_EQ(out[1], 1023 * std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isnan(out[2]));
  EXPECT_TRUE(out[3] == 0.0f && std::signbit(out[3]));
}

TEST(Safetensors, RejectsMalformed) {
  const std::vector<uint8_t> d8(8, 0);
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_EQ(error_of(image(ok, d8)), "");
  EXPECT_NE(error_of({}).find("truncated"), std::string::npos);
  EXPECT_NE(error_of(image(ok, {}, ok.size() + 10)).find("truncated"), std::string::npos);
  EXPECT_NE(error_of(image(ok, {1, 2, 3})).find("past the 3 data bytes"), std::string::npos);
  EXPECT_NE(error_of(image(ok, {}, uint64_t{1} << 40)).find("exceeds the limit"),
            std::string::npos);
  EXPECT_NE(error_of(image("{\"a\":", d8)).find("well-formed"), std::string::npos);
  EXPECT_NE(error_of(image("[1,2]", d8)).find("not a JSON object"), std::string::npos);
  EXPECT_NE(error_of(image(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", d8))
                .find("needs 12 bytes"),
            std::string::npos);
  EXPECT_NE(error_of(image(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", d8))
                .find("unknown dtype"),
            std::string::npos);
  EXPECT_NE(error_of(image(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", d8))
                .find("non-negative"),
            std::string::npos);
  EXPECT_NE(error_of(image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", d8))
                .find("begin > end"),
            std::string::npos);
  EXPECT_NE(error_of(image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                           R"("b":{"dtype":"F32","shape":[2],"data_offsets":[2,10]}})",
                           std::vector<uint8_t>(10, 0)))
                .find("overlap"),
            std::string::npos);
  EXPECT_NE(error_of(image(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],)"
                           R"("data_offsets":[0,8]}})",
                           d8))
                .find("overflow"),
            std::string::npos);
  EXPECT_NE(error_of(image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                           R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                           d8))
                .find("twice"),
            std::string::npos);
  EXPECT_NE(error_of(image(R"({"__metadata__":{"k":1}})", {})).find("not a string"),
            std::string::npos);
}

TEST(Safetensors, OpenErrorsNameTheFile) {
  try {
    SafetensorsFile::open("/nonexistent/model.safetensors");
    FAIL();
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.safetensors"), std::string::npos);
  }
}

TEST(Safetensors, IntegerDtypeIsNotFloat) {
  const uint8_t raw[] = {1, 0, 0, 0};
  float out[1];
  EXPECT_THROW(convert_to_f32(DType::I32, std::as_bytes(std::span(raw)), out), ModelError);
}
