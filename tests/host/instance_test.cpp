// Creating instances and calling them through the typed handles.
#include <yaml-cpp/yaml.h>

#include "host/attention_handle.hpp"
#include "host/plugin_error.hpp"
#include "host/plugin_registry.hpp"
#include "host/positional_handle.hpp"
#include "host/tokenizer_handle.hpp"
#include "test_plugins.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace qkv::host {
namespace {

using test::plugin_file;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const LoadedPlugin& load(PluginRegistry& registry, const std::string& file, qkv_kind kind,
                         const std::string& name) {
  registry.load_file(plugin_file(file));
  return registry.require(kind, name);
}

TEST(HostTokenizer, EncodesWithOffsetsAndDecodes) {
  PluginRegistry registry;
  const auto& p = load(registry, "test_bytes", QKV_KIND_TOKENIZER, "test-bytes");
  TokenizerHandle tok(create_instance(p, YAML::Load("offset: 3"), "/cfg"));
  std::vector<int32_t> ids;
  std::vector<uint32_t> offsets;
  tok.encode("hi", encode_options(), ids, &offsets);
  EXPECT_THAT(ids, ElementsAre('h' + 3, 'i' + 3));
  EXPECT_THAT(offsets, ElementsAre(0, 1, 1, 2));
  // Appends: the caller owns clearing.
  tok.encode("!", encode_options(QKV_ENCODE_ADD_SPECIAL), ids);
  EXPECT_THAT(ids, ElementsAre('h' + 3, 'i' + 3, 1000, '!' + 3, 1001));
  EXPECT_EQ(tok.decode(ids), "hi!");
  EXPECT_EQ(tok.info().vocab_size, 261u);
  EXPECT_EQ(tok.info().bos_id, 1000);
  EXPECT_EQ(tok.token_to_id("</s>"), 1001);
  EXPECT_EQ(tok.token_to_id("nope"), -1);
}

TEST(HostTokenizer, MaxLengthCountsSpecials) {
  PluginRegistry registry;
  const auto& p = load(registry, "test_bytes", QKV_KIND_TOKENIZER, "test-bytes");
  TokenizerHandle tok(create_instance(p, YAML::Node(), "/cfg"));
  EXPECT_THAT(tok.encode("abcdef", encode_options(QKV_ENCODE_ADD_SPECIAL, QKV_SPECIAL_DEFAULT, 4)),
              ElementsAre(1000, 'a', 'b', 1001));
}

TEST(HostTokenizer, HostCutsResultsOverMaxLength) {
  PluginRegistry registry;
  const auto& p = load(registry, "test_bytes_overlong", QKV_KIND_TOKENIZER, "test-bytes-overlong");
  TokenizerHandle tok(create_instance(p, YAML::Node(), "/cfg"));
  std::vector<int32_t> ids{7};  // appended to: what was there stays
  std::vector<uint32_t> offsets{0, 0};
  tok.encode("abcdef", encode_options(0, QKV_SPECIAL_DEFAULT, 3), ids, &offsets);
  EXPECT_THAT(ids, ElementsAre(7, 'a', 'b', 'c'));
  EXPECT_THAT(offsets, ElementsAre(0, 0, 0, 1, 1, 2, 2, 3));
  EXPECT_EQ(tok.overlong_results(), 1u);
  // Within the limit, or without one, nothing is cut or counted.
  EXPECT_EQ(tok.encode("abcdef").size(), 6u);
  EXPECT_EQ(tok.encode("ab", encode_options(0, QKV_SPECIAL_DEFAULT, 3)).size(), 2u);
  EXPECT_EQ(tok.overlong_results(), 1u);
}

TEST(HostTokenizer, PluginErrorsBecomePluginErrorWithCodeAndContext) {
  PluginRegistry registry;
  const auto& p = load(registry, "test_bytes", QKV_KIND_TOKENIZER, "test-bytes");
  TokenizerHandle tok(create_instance(p, YAML::Node(), "/cfg"));
  const std::vector<int32_t> bad{5000};
  try {
    tok.decode(bad);
    FAIL() << "decode of an unknown id did not throw";
  } catch (const PluginError& e) {
    EXPECT_EQ(e.code(), QKV_ERR_INVALID_INPUT);
    EXPECT_THAT(e.what(), AllOf(HasSubstr("test-bytes"), HasSubstr("decode"),
                                HasSubstr("unknown token id 5000")));
  }
}

TEST(HostCreate, ErrorReturnedByCreateNamesPluginFileAndCause) {
  PluginRegistry registry;
  const auto& p = load(registry, "create_error", QKV_KIND_TOKENIZER, "test-create-error");
  try {
    create_instance(p, YAML::Node(), "/cfg");
    FAIL() << "create did not fail";
  } catch (const PluginError& e) {
    EXPECT_EQ(e.code(), QKV_ERR_CONFIG);
    EXPECT_THAT(e.what(),
                AllOf(HasSubstr(plugin_file("create_error").string()), HasSubstr("create failed"),
                      HasSubstr("vocabulary file missing (test)")));
  }
}

TEST(HostCreate, ExceptionInsideTheCppLayerIsCaughtAtTheBoundary) {
  PluginRegistry registry;
  const auto& p = load(registry, "create_throws", QKV_KIND_ATTENTION, "test-create-throws");
  try {
    create_instance(p, YAML::Node(), "/cfg");
    FAIL() << "create did not fail";
  } catch (const PluginError& e) {
    EXPECT_EQ(e.code(), QKV_ERR_INTERNAL);
    EXPECT_THAT(e.what(), AllOf(HasSubstr(plugin_file("create_throws").string()),
                                HasSubstr("constructor exploded (test)")));
  }
}

TEST(HostCreate, ConfigErrorCarriesFileLineColumn) {
  PluginRegistry registry;
  const auto& p = load(registry, "test_bytes", QKV_KIND_TOKENIZER, "test-bytes");
  YAML::Node root = YAML::Load("tokenizer:\n  config:\n    offset: 1\n    fail: true\n");
  try {
    create_instance(p, root["tokenizer"]["config"], "/cfg", "/cfg/p.yaml");
    FAIL() << "create did not fail";
  } catch (const PluginError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/cfg/p.yaml:4:11: fail was requested"));
  }
}

TEST(HostCreate, HandleOfTheWrongKindIsRefused) {
  PluginRegistry registry;
  const auto& p = load(registry, "test_ramp", QKV_KIND_POSITIONAL, "test-ramp");
  EXPECT_THROW(TokenizerHandle(create_instance(p, YAML::Node(), "/cfg")), PluginError);
}

TEST(HostPositional, AddsAndReportsUnsupportedRotate) {
  PluginRegistry registry;
  const auto& p = load(registry, "test_ramp", QKV_KIND_POSITIONAL, "test-ramp");
  PositionalHandle pos(create_instance(p, YAML::Load("max_positions: 8"), "/cfg"));
  EXPECT_EQ(pos.info().mode, QKV_POSITIONAL_ADDITIVE);
  EXPECT_EQ(pos.info().max_positions, 8);
  std::vector<float> x(2 * 3, 0.5f);  // 2 tokens, dim 2, row stride 3
  const std::vector<int32_t> positions{0, 7};
  pos.add(x.data(), 2, 3, positions);
  EXPECT_THAT(x, ElementsAre(0.5f, 1.5f, 0.5f, 7000.5f, 7001.5f, 0.5f));
  const std::vector<int32_t> far{8};
  try {
    pos.add(x.data(), 2, 3, far);
    FAIL();
  } catch (const PluginError& e) {
    EXPECT_EQ(e.code(), QKV_ERR_OUT_OF_RANGE);
  }
  const std::vector<int32_t> negative{0, -1};
  EXPECT_THAT(
      [&] { pos.add(x.data(), 2, 3, negative); },
      ::testing::ThrowsMessage<PluginError>(HasSubstr("position -1 of token 1 is negative")));
  EXPECT_THAT([&] { pos.add(x.data(), 4, 3, positions); },
              ::testing::ThrowsMessage<PluginError>(HasSubstr("row_stride 3 is smaller")));
  try {
    pos.rotate(x.data(), 1, 2, 2, positions);
    FAIL();
  } catch (const PluginError& e) {
    EXPECT_EQ(e.code(), QKV_ERR_UNSUPPORTED);
  }
}

TEST(HostAttention, APluginCanReadAndFreeAnErrorTheHostReturned) {
  PluginRegistry registry;
  const auto& p = load(registry, "test_scale_v", QKV_KIND_ATTENTION, "test-scale-v");
  TensorLookup none = [](std::string_view) -> std::optional<qkv_tensor_view> {
    return std::nullopt;
  };
  // The lookup fails; the plugin reads the error's code (INVALID_INPUT), frees it, falls back.
  AttentionHandle att(
      create_instance(p, YAML::Load("tensor: absent.w\ndefault_w: 4"), "/cfg", "", none));
  const std::vector<int32_t> cu{0, 1};
  const std::vector<float> v{1, 2};
  std::vector<float> out(2, 0.0f);
  qkv_attention_args a{};
  a.batch = 1;
  a.heads_q = a.heads_kv = 1;
  a.head_dim = 2;
  a.cu_seqlens_q = a.cu_seqlens_k = cu.data();
  a.q = a.k = a.v = v.data();
  a.out = out.data();
  att.forward(a);
  EXPECT_THAT(out, ElementsAre(4.0f, 8.0f));
  // Without the fallback the same error is returned to the host unchanged.
  EXPECT_THAT([&] { create_instance(p, YAML::Load("tensor: absent.w"), "/cfg", "", none); },
              ::testing::ThrowsMessage<PluginError>(HasSubstr("no tensor named 'absent.w'")));
}

TEST(HostAttention, ForwardSeesModelTensorsThroughTheLookup) {
  PluginRegistry registry;
  const auto& p = load(registry, "test_scale_v", QKV_KIND_ATTENTION, "test-scale-v");
  const std::vector<float> weight{2.5f};
  TensorLookup lookup = [&](std::string_view name) -> std::optional<qkv_tensor_view> {
    if (name != "layer.0.w") return std::nullopt;
    qkv_tensor_view v{};
    v.struct_size = sizeof v;
    v.ndim = 1;
    v.shape[0] = 1;
    v.data = weight.data();
    return v;
  };
  AttentionHandle att(create_instance(p, YAML::Load("tensor: layer.0.w"), "/cfg", "", lookup));
  const std::vector<int32_t> cu{0, 2};
  const std::vector<float> v{1, 2, 3, 4};
  std::vector<float> out(4, 0.0f);
  qkv_attention_args a{};
  a.batch = 1;
  a.heads_q = a.heads_kv = 1;
  a.head_dim = 2;
  a.cu_seqlens_q = a.cu_seqlens_k = cu.data();
  a.q = a.k = a.v = v.data();
  a.out = out.data();
  att.forward(a);
  EXPECT_THAT(out, ElementsAre(2.5f, 5.0f, 7.5f, 10.0f));

  // Malformed calls are refused by the host before they reach the plugin.
  auto refused = [&](qkv_attention_args bad, const char* why) {
    EXPECT_THAT([&] { att.forward(bad); }, ::testing::ThrowsMessage<PluginError>(HasSubstr(why)));
  };
  qkv_attention_args gqa = a;
  gqa.heads_q = 3;
  gqa.heads_kv = 2;
  refused(gqa, "heads_q (3) is not a multiple of heads_kv (2)");
  const std::vector<int32_t> forwards{0, 1, 2}, backwards{0, 3, 2};
  qkv_attention_args cu_bad = a;
  cu_bad.batch = 2;
  cu_bad.cu_seqlens_q = forwards.data();
  cu_bad.cu_seqlens_k = backwards.data();
  refused(cu_bad, "cu_seqlens_k decreases at index 2 (3 -> 2)");
  qkv_attention_args stride_bad = a;
  stride_bad.out_stride = 1;
  refused(stride_bad, "out_stride (1) is less than heads*head_dim (2)");
  qkv_attention_args no_out = a;
  no_out.out = nullptr;
  refused(no_out, "q or out is NULL");

  // Missing tensor, and no model at all: create fails with the host's message.
  EXPECT_THAT([&] { create_instance(p, YAML::Load("tensor: nope"), "/cfg", "", lookup); },
              ::testing::ThrowsMessage<PluginError>(HasSubstr("no tensor named 'nope'")));
  EXPECT_THAT([&] { create_instance(p, YAML::Load("tensor: nope"), "/cfg"); },
              ::testing::ThrowsMessage<PluginError>(HasSubstr("serves no model")));
}

}  // namespace
}  // namespace qkv::host
