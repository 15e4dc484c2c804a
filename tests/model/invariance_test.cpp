// Typical mistakes of a Transformer runtime as invariances (future leaks, lost positions, swapped
// cross-attention sources). Each property is a function that is checked on the real model and
// on a deliberately broken variant (Faults), where it must fail: a test that cannot fail proves
// nothing.
#include "plugin_support.hpp"
#include "test_support.hpp"

using namespace qkv::model;
using namespace qkv::model::testing;

namespace {

const NaiveAttention kAttention;

std::vector<float> run(const PluggedModel& m, const std::vector<int32_t>& ids, Faults f = {}) {
  auto b = m.components(kAttention);
  b.faults = f;
  const std::vector<int32_t> cu = {0, static_cast<int32_t>(ids.size())};
  return m.transformer->config().arch == Arch::Encoder ? m.transformer->encode({ids, cu}, b)
                                                       : m.transformer->decode({ids, cu}, b);
}

float max_abs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::abs(x));
  return m;
}

bool near(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  const float tol = 1e-5f * (1 + max_abs(b));
  for (size_t i = 0; i < a.size(); ++i)
    if (std::abs(a[i] - b[i]) > tol) return false;
  return true;
}

// Rows [0, t] bit-identical after token t+1 changes?
bool prefix_unchanged(const PluggedModel& m, Faults f, size_t t) {
  const uint32_t d = m.transformer->config().d_model;
  std::vector<int32_t> ids = {3, 17, 5, 42, 8, 11, 29, 2};
  const auto a = run(m, ids, f);
  ids[t + 1] = (ids[t + 1] + 7) % 50;
  const auto b = run(m, ids, f);
  return std::memcmp(a.data(), b.data(), (t + 1) * d * sizeof(float)) == 0;
}

TEST(Invariance, DecoderIgnoresTheFuture) {
  for (const char* name : {"gpt2-prefixed", "qkv-decoder"}) {
    SCOPED_TRACE(name);
    const auto m = load_plugged(fixture(name));
    for (size_t t : {0u, 3u, 6u}) {
      EXPECT_TRUE(prefix_unchanged(m, {}, t)) << "t=" << t;
      Faults broken;
      broken.drop_causal_mask = true;
      EXPECT_FALSE(prefix_unchanged(m, broken, t)) << "without the causal mask, t=" << t;
    }
  }
}

TEST(Invariance, EncoderSeesTheWholeSequence) {
  const auto m = load_plugged(fixture("bert-prefixed"));
  for (size_t t : {0u, 3u, 6u}) {
    EXPECT_FALSE(prefix_unchanged(m, {}, t)) << "t=" << t;
    Faults broken;
    broken.force_causal_mask = true;
    EXPECT_TRUE(prefix_unchanged(m, broken, t)) << "a causal encoder, t=" << t;
  }
}

// Does permuting the input only permute the output rows?
bool permutation_equivariant(const PluggedModel& m, Faults f) {
  const uint32_t d = m.transformer->config().d_model;
  const std::vector<int32_t> ids = {3, 17, 5, 42, 8, 11, 29, 2, 60};
  const std::vector<size_t> perm = {4, 0, 8, 2, 7, 1, 6, 3, 5};
  std::vector<int32_t> pids;
  for (size_t p : perm) pids.push_back(ids[p]);
  const auto a = run(m, ids, f), b = run(m, pids, f);
  std::vector<float> expect;
  for (size_t p : perm) expect.insert(expect.end(), a.begin() + p * d, a.begin() + (p + 1) * d);
  return near(b, expect);
}

// The seq2seq fixture's encoder alone, with or without its sinusoidal positions.
PluggedModel encoder_of_seq2seq(Positions positions) {
  auto c = load_config(fixture("seq2seq-tiny"));
  c.arch = Arch::Encoder;
  c.positions = positions;
  const auto file = fixture("seq2seq-tiny") / "model.safetensors";
  return PluggedModel(load_model(c, file), file);
}

TEST(Invariance, WithoutPositionsPermutingOnlyPermutes) {
  const auto m = encoder_of_seq2seq(Positions::None);
  EXPECT_TRUE(permutation_equivariant(m, {}));
  Faults broken;
  broken.force_causal_mask = true;  // order leaks in through the mask
  EXPECT_FALSE(permutation_equivariant(m, broken));
}

TEST(Invariance, WithPositionsPermutingChangesOutputs) {
  const auto m = encoder_of_seq2seq(Positions::Sinusoidal);
  EXPECT_FALSE(permutation_equivariant(m, {}));
  Faults broken;
  broken.drop_positions = true;
  EXPECT_TRUE(permutation_equivariant(m, broken));
}

// ---------------------------------------------------------------- cross-attention

struct Seq2Seq {
  PluggedModel m = load_plugged(fixture("seq2seq-tiny"));
  const std::vector<int32_t> tgt = {1, 9, 4, 33, 7};

  std::vector<float> memory(const std::vector<int32_t>& src) const {
    const std::vector<int32_t> cu = {0, static_cast<int32_t>(src.size())};
    return m.transformer->encode({src, cu}, m.components(kAttention));
  }
  std::vector<float> decode(const std::vector<float>& mem, Faults f) const {
    auto b = m.components(kAttention);
    b.faults = f;
    const int32_t s = static_cast<int32_t>(mem.size() / m.transformer->config().d_model);
    const std::vector<int32_t> cu = {0, static_cast<int32_t>(tgt.size())}, mcu = {0, s};
    return m.transformer->decode({tgt, cu}, b, mem, mcu);
  }
};

bool length_follows_decoder(const Seq2Seq& s, Faults f) {
  for (size_t n : {1u, 3u, 12u}) {
    std::vector<int32_t> src(n);
    for (size_t i = 0; i < n; ++i) src[i] = static_cast<int32_t>(5 + 3 * i);
    if (s.decode(s.memory(src), f).size() != s.tgt.size() * s.m.transformer->config().d_model)
      return false;
  }
  return true;
}

TEST(Invariance, CrossAttentionOutputHasTheDecoderLength) {
  const Seq2Seq s;
  EXPECT_TRUE(length_follows_decoder(s, {}));
  Faults broken;
  broken.swap_cross_sources = true;
  EXPECT_FALSE(length_follows_decoder(s, broken));
}

bool source_matters(const Seq2Seq& s, Faults f) {
  const auto a = s.decode(s.memory({5, 8, 13, 21}), f);
  const auto b = s.decode(s.memory({5, 8, 14, 21}), f);
  return !near(a, b);
}

TEST(Invariance, CrossAttentionChangesWithTheSource) {
  const Seq2Seq s;
  EXPECT_TRUE(source_matters(s, {}));
  Faults broken;
  broken.cross_kv_from_decoder = true;
  EXPECT_FALSE(source_matters(s, broken));
}

// Permuting the encoder rows (keys and values together) must not change the decoder output.
bool memory_order_irrelevant(const Seq2Seq& s, Faults f) {
  const uint32_t d = s.m.transformer->config().d_model;
  const auto mem = s.memory({5, 8, 13, 21, 34});  // as long as the target: swapped sources fit
  const std::vector<size_t> perm = {3, 0, 4, 1, 2};
  std::vector<float> pmem;
  for (size_t p : perm) pmem.insert(pmem.end(), mem.begin() + p * d, mem.begin() + (p + 1) * d);
  return near(s.decode(pmem, f), s.decode(mem, f));
}

TEST(Invariance, CrossAttentionIgnoresSourceOrderOfKeysAndValues) {
  const Seq2Seq s;
  EXPECT_TRUE(memory_order_irrelevant(s, {}));
  Faults broken;
  broken.swap_cross_sources = true;
  EXPECT_FALSE(memory_order_irrelevant(s, broken));
}

}  // namespace
