// The current host must load and run plugins built against the frozen headers (tests/abi/v1:
// ABI 1.0; tests/abi/v1_1: ABI 1.1, as released), and hand each only what its ABI covers.
#include <yaml-cpp/yaml.h>

#include "host/attention_handle.hpp"
#include "host/plugin_registry.hpp"
#include "host/tokenizer_handle.hpp"

#include <qkv/attention_check.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace qkv::host {
namespace {

using ::testing::ElementsAre;

void frozen_tokenizer_runs(const char* file, uint16_t abi_minor) {
  SCOPED_TRACE(file);
  PluginRegistry registry;
  ASSERT_TRUE(registry.load_file(file)) << registry.errors().at(0);
  const LoadedPlugin& p = registry.require(QKV_KIND_TOKENIZER, "abi-v1-frozen");
  EXPECT_EQ(p.abi_major, 1);
  EXPECT_EQ(p.abi_minor, abi_minor);

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

TEST(AbiV1, FrozenPluginLoadsAndRunsInTheCurrentHost) {
  frozen_tokenizer_runs(QKV_ABI_V1_PLUGIN, 0);
  frozen_tokenizer_runs(QKV_ABI_V1_1_PLUGIN, 1);
}

TEST(AbiV1, AFrozenV1_1AttentionPluginGetsTheWholeStruct) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.load_file(QKV_ABI_V1_1_ATTENTION_PLUGIN)) << registry.errors().at(0);
  const LoadedPlugin& p = registry.require(QKV_KIND_ATTENTION, "abi-v1-frozen-attention");
  EXPECT_EQ(p.abi_minor, 1);
  AttentionHandle attention(create_instance(p, YAML::Node(), "/tmp"));
  std::vector<float> q(4, 1.0f), out(4, -1.0f);
  std::vector<int32_t> cu{0, 1};
  qkv_attention_args a{};
  a.batch = 1;
  a.heads_q = a.heads_kv = 1;
  a.head_dim = 4;
  a.mask = QKV_MASK_SLIDING_WINDOW;
  a.window = 2;
  a.cu_seqlens_q = a.cu_seqlens_k = cu.data();
  a.q = a.k = a.v = q.data();
  a.out = out.data();
  attention.forward(a);
  EXPECT_EQ(out[0], float(sizeof(qkv_attention_args)));
  EXPECT_EQ(out[1], float(QKV_MASK_SLIDING_WINDOW));
}

TEST(AbiV1, AFrozenAttentionPluginGetsTheV1_0StructAndNoV1_1Features) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.load_file(QKV_ABI_V1_ATTENTION_PLUGIN)) << registry.errors().at(0);
  const LoadedPlugin& p = registry.require(QKV_KIND_ATTENTION, "abi-v1-frozen-attention");
  EXPECT_EQ(p.abi_minor, 0);
  AttentionHandle attention(create_instance(p, YAML::Node(), "/tmp"));

  std::vector<float> q(4, 1.0f), out(4, -1.0f);
  std::vector<int32_t> cu{0, 1};
  qkv_attention_args a{};
  a.batch = 1;
  a.heads_q = a.heads_kv = 1;
  a.head_dim = 4;
  a.mask = QKV_MASK_CAUSAL;
  a.cu_seqlens_q = a.cu_seqlens_k = cu.data();
  a.q = a.k = a.v = q.data();
  a.out = out.data();
  attention.forward(a);
  EXPECT_EQ(out[0], float(sdk::kAttentionArgsV1_0));  // not sizeof(qkv_attention_args) of 1.1
  EXPECT_EQ(out[1], float(QKV_MASK_CAUSAL));

  // What a 1.0 plugin cannot read is refused by the host, never silently dropped.
  qkv_attention_args window = a;
  window.mask = QKV_MASK_SLIDING_WINDOW;
  window.window = 4;
  EXPECT_THAT([&] { attention.forward(window); },
              ::testing::ThrowsMessage<PluginError>(::testing::HasSubstr("ABI 1.1")));
  const float* caches[] = {q.data()};
  qkv_attention_args cached = a;
  cached.k_seqs = cached.v_seqs = caches;
  try {
    attention.forward(cached);
    ADD_FAILURE() << "per-sequence caches reached a 1.0 plugin";
  } catch (const PluginError& e) {
    EXPECT_EQ(e.code(), QKV_ERR_UNSUPPORTED);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("per-sequence K/V caches"));
  }
}

}  // namespace
}  // namespace qkv::host
