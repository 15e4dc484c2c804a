// The runtime against PyTorch (fixtures from make_fixtures.py): hidden states, pooling, LM
// scores, for every architecture and HF layout, on batches of different lengths; and the
// same bytes on 1 and 2 threads.
#include <tbb/task_arena.h>

#include "model/heads.hpp"
#include "plugin_support.hpp"
#include "model/safetensors.hpp"
#include "test_support.hpp"

using namespace qkv::model;
using namespace qkv::model::testing;

namespace {

const NaiveAttention kAttention;

struct Outputs {
  std::vector<float> hidden, memory;
};

Outputs run(const PluggedModel& m, const Expected& e, unsigned threads) {
  Outputs o;
  tbb::task_arena(static_cast<int>(threads)).execute([&] {
    const auto b = m.components(kAttention);
    const auto& c = m.transformer->config();
    if (c.arch == Arch::EncoderDecoder) {
      const auto sids = e.ints("src_ids"), scu = e.ints("src_cu");
      const auto tids = e.ints("tgt_ids"), tcu = e.ints("tgt_cu");
      o.memory = m.transformer->encode({sids, scu}, b);
      o.hidden = m.transformer->decode({tids, tcu}, b, o.memory, scu);
    } else {
      const auto ids = e.ints("ids"), cu = e.ints("cu");
      o.hidden = c.arch == Arch::Encoder ? m.transformer->encode({ids, cu}, b)
                                         : m.transformer->decode({ids, cu}, b);
    }
  });
  return o;
}

void check_lm(const PluggedModel& m, const Expected& e, const std::vector<float>& hidden,
              const std::string& ids_name, const std::string& cu_name) {
  const auto ids = e.ints(ids_name), cu = e.ints(cu_name);
  const auto& head = m.transformer->weights().lm_head;
  const auto s = next_token_scores(m.transformer->gemm_kernel(), head, hidden, ids, cu);
  expect_close(s.logprobs, e.floats("logprobs"), "logprobs");
  expect_close(s.perplexity, e.floats("perplexity"), "perplexity");
  const uint32_t k = static_cast<uint32_t>(e.shape("topk_ids")[1]);
  const auto top = top_k_logits(m.transformer->gemm_kernel(), head, hidden, k);
  expect_close(top.logits, e.floats("topk_logits"), "topk logits");
  EXPECT_EQ(top.ids, e.ints("topk_ids"));
}

class Parity : public ::testing::TestWithParam<std::string> {};

TEST_P(Parity, MatchesTorch) {
  const auto m = load_plugged(fixture(GetParam()));
  const Expected e(GetParam());
  const auto out = run(m, e, 2);
  expect_close(out.hidden, e.floats("hidden"), "hidden");
  const auto& c = m.transformer->config();
  if (c.arch == Arch::EncoderDecoder) {
    expect_close(out.memory, e.floats("memory"), "encoder output");
    check_lm(m, e, out.hidden, "tgt_ids", "tgt_cu");
  } else if (c.arch == Arch::Decoder) {
    check_lm(m, e, out.hidden, "ids", "cu");
  } else {
    const auto cu = e.ints("cu");
    expect_close(pool_cls(out.hidden, c.d_model, cu), e.floats("pooled_cls"), "pooled_cls");
    expect_close(pool_mean(out.hidden, c.d_model, cu), e.floats("pooled_mean"), "pooled_mean");
  }
}

TEST_P(Parity, SameBytesOnOneAndTwoThreads) {
  const auto m = load_plugged(fixture(GetParam()));
  const Expected e(GetParam());
  const auto one = run(m, e, 1), two = run(m, e, 2);
  ASSERT_EQ(one.hidden.size(), two.hidden.size());
  EXPECT_EQ(0, std::memcmp(one.hidden.data(), two.hidden.data(), one.hidden.size() * 4));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Parity,
                         ::testing::Values("bert-tiny", "bert-prefixed", "gpt2-tiny",
                                           "gpt2-prefixed", "seq2seq-tiny", "qkv-decoder"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// nn.MultiheadAttention with packed in_proj and key_padding_mask vs the runtime's attention
// block over the same documents packed without padding.
TEST(ParityMha, PackedInProjAndKeyPadding) {
  const auto file = SafetensorsFile::open(fixture("mha") / "model.safetensors");
  const Expected e("mha");
  const uint32_t d = 24;
  ModelConfig c;
  c.model_type = "qkv";
  c.d_model = d;
  c.heads = 3;
  c.vocab_size = 1;
  Transformer t(c, {});
  const auto L = load_attention_module(file, "", d);
  const auto x = e.floats("x");
  const auto cu = e.ints("cu");
  std::vector<int32_t> ids(x.size() / d, 0), positions(ids.size(), 0);
  std::vector<float> out(x.size());
  t.self_attention(L, x.data(), {ids, cu}, positions, nullptr, false, kAttention, out.data());
  expect_close(out, e.floats("out"), "mha out");
}

}  // namespace
