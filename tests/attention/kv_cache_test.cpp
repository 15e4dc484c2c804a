// The ABI 1.1 attention fields on both implementations: per-sequence K/V caches (k_seqs / v_seqs,
// per-sequence strides) give the same bytes as the contiguous call, and the sliding-window
// mask matches its definition (query i sees keys j with i' - window < j <= i', i' = i + Lk -
// Lq), checked against attention over exactly those keys with no mask.
#include "attention_case.hpp"
#include "flash_attention.hpp"
#include "reference_attention.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <stdexcept>

namespace qkv::attention::test {
namespace {

struct Named {
  const char* name;
  AttentionFn impl;
};
const Named kImplementations[] = {{"reference", reference_forward}, {"flash", flash_forward}};

// The packed buffers of a Case plus the call over them; `mask`/`window` override the case's.
struct Call {
  std::vector<float> out, probs;
  qkv_attention_args a{};
};

Call contiguous_call(const Case& c, uint32_t mask, uint32_t window, bool with_probs) {
  Call call;
  call.out.assign(c.tokens_q() * c.heads_q * c.head_dim, -7.0f);
  call.probs.assign(with_probs ? c.probs_size() : 0, -7.0f);
  qkv_attention_args& a = call.a;
  a.struct_size = sizeof a;
  a.batch = c.batch();
  a.heads_q = c.heads_q;
  a.heads_kv = c.heads_kv;
  a.head_dim = c.head_dim;
  a.mask = mask;
  a.window = window;
  a.scale = c.scale;
  a.cu_seqlens_q = c.cu_q.data();
  a.cu_seqlens_k = c.cu_k.data();
  a.q = c.q.data();
  a.k = c.k.data();
  a.v = c.v.data();
  a.out = call.out.data();
  a.probs = with_probs ? call.probs.data() : nullptr;
  return call;
}

Case random_packed(std::mt19937_64& rng, int max_len) {
  RandomSpec spec;
  spec.max_len = max_len;
  spec.max_heads = 6;
  spec.dims = {8, 32};
  Case c = random_case(rng, spec);
  c.q_stride = c.k_stride = c.v_stride = c.out_stride = 0;
  return c;
}

// Each sequence's keys and values copied into a buffer of its own, with a row stride of its own
// (padding filled with NaN, which must never be read), placed in reverse order in memory.
struct SeparateCaches {
  std::vector<std::vector<float>> k, v;
  std::vector<const float*> k_ptr, v_ptr;
  std::vector<size_t> k_stride, v_stride;

  explicit SeparateCaches(const Case& c) {
    const size_t row = size_t(c.heads_kv) * c.head_dim;
    const uint32_t n = c.batch();
    k.resize(n);
    v.resize(n);
    k_ptr.resize(n);
    v_ptr.resize(n);
    k_stride.resize(n);
    v_stride.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t b = n - 1 - i;  // allocation order reversed
      const size_t lk = size_t(c.cu_k[b + 1] - c.cu_k[b]);
      k_stride[b] = row + b % 3;
      v_stride[b] = row + 2 * (b % 2);
      k[b].assign(std::max<size_t>(lk, 1) * k_stride[b], NAN);
      v[b].assign(std::max<size_t>(lk, 1) * v_stride[b], NAN);
      for (size_t j = 0; j < lk; ++j) {
        std::copy_n(&c.k[(c.cu_k[b] + j) * row], row, &k[b][j * k_stride[b]]);
        std::copy_n(&c.v[(c.cu_k[b] + j) * row], row, &v[b][j * v_stride[b]]);
      }
      k_ptr[b] = k[b].data();
      v_ptr[b] = v[b].data();
    }
  }
  void attach(qkv_attention_args& a) const {
    a.k = a.v = nullptr;  // must not be read
    a.k_seqs = k_ptr.data();
    a.v_seqs = v_ptr.data();
    a.k_seq_strides = k_stride.data();
    a.v_seq_strides = v_stride.data();
  }
};

TEST(AttentionKvCache, PerSequenceCachesGiveTheContiguousResult) {
  const uint64_t seed = test_seed();
  SCOPED_TRACE("QKV_ATTENTION_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 20; ++round) {
    const Case c = random_packed(rng, round % 2 ? 150 : 20);
    const uint32_t mask = c.causal ? QKV_MASK_CAUSAL : QKV_MASK_NONE;
    for (const auto& [name, impl] : kImplementations) {
      SCOPED_TRACE(std::string(name) + " " + c.describe());
      Call packed = contiguous_call(c, mask, 0, true);
      impl(packed.a);
      Call cached = contiguous_call(c, mask, 0, true);
      SeparateCaches caches(c);
      caches.attach(cached.a);
      impl(cached.a);
      EXPECT_EQ(cached.out, packed.out);  // same arithmetic in the same order: same bytes
      EXPECT_EQ(cached.probs, packed.probs);
    }
  }
}

TEST(AttentionKvCache, DecodeStepReadsEachSequencesCacheInPlace) {
  // One new query per sequence against caches of different lengths, as a decode step is.
  std::mt19937_64 rng(5);
  Case c = random_packed(rng, 40);
  c.causal = true;
  std::vector<int32_t> cu_q(c.batch() + 1);
  for (uint32_t b = 0; b <= c.batch(); ++b) cu_q[b] = int32_t(b);
  c.cu_q = cu_q;
  c.q.resize(c.batch() * size_t(c.heads_q) * c.head_dim);
  for (const auto& [name, impl] : kImplementations) {
    SCOPED_TRACE(name);
    Call packed = contiguous_call(c, QKV_MASK_CAUSAL, 0, false);
    impl(packed.a);
    Call cached = contiguous_call(c, QKV_MASK_CAUSAL, 0, false);
    SeparateCaches caches(c);
    caches.attach(cached.a);
    impl(cached.a);
    EXPECT_EQ(cached.out, packed.out);
  }
}

// The definition, row by row: attention with no mask over exactly the keys [i'-w+1, i'] of
// query i (clamped to the sequence), on the reference implementation (checked against PyTorch by
// fixture_test for unmasked calls). Probabilities land at those keys; the rest are 0.
Call sliding_by_definition(const Case& c, uint32_t window) {
  Call call = contiguous_call(c, QKV_MASK_NONE, 0, true);
  std::fill(call.probs.begin(), call.probs.end(), 0.0f);
  const size_t qrow = size_t(c.heads_q) * c.head_dim, kvrow = size_t(c.heads_kv) * c.head_dim;
  size_t probs_at = 0;
  for (uint32_t b = 0; b < c.batch(); ++b) {
    const int64_t lq = c.cu_q[b + 1] - c.cu_q[b], lk = c.cu_k[b + 1] - c.cu_k[b];
    for (int64_t i = 0; i < lq; ++i) {
      const int64_t newest = i + lk - lq;
      const int64_t hi = std::min(newest, lk - 1), lo = std::max<int64_t>(newest - window + 1, 0);
      const int64_t seen = hi >= lo ? hi - lo + 1 : 0;
      std::vector<int32_t> cu_q{0, 1}, cu_k{0, int32_t(seen)};
      std::vector<float> probs(size_t(c.heads_q) * seen);
      qkv_attention_args a = call.a;
      a.batch = 1;
      a.mask = QKV_MASK_NONE;
      a.cu_seqlens_q = cu_q.data();
      a.cu_seqlens_k = cu_k.data();
      a.q = c.q.data() + (c.cu_q[b] + i) * qrow;
      a.out = call.out.data() + (c.cu_q[b] + i) * qrow;
      a.k = seen ? c.k.data() + (c.cu_k[b] + lo) * kvrow : nullptr;
      a.v = seen ? c.v.data() + (c.cu_k[b] + lo) * kvrow : nullptr;
      a.probs = probs.data();
      reference_forward(a);
      // A row that sees no key has no probabilities to copy (and probs is empty then).
      for (uint32_t h = 0; seen && h < c.heads_q; ++h)
        std::copy_n(&probs[h * seen], seen,
                    &call.probs[probs_at + (size_t(h) * lq + i) * lk + std::max<int64_t>(lo, 0)]);
    }
    probs_at += size_t(c.heads_q) * lq * lk;
  }
  return call;
}

TEST(AttentionSlidingWindow, MatchesAttentionOverTheVisibleKeysOnly) {
  const uint64_t seed = test_seed();
  SCOPED_TRACE("QKV_ATTENTION_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 16; ++round) {
    const Case c = random_packed(rng, round % 2 ? 130 : 24);
    const uint32_t window = std::uniform_int_distribution<uint32_t>(1, 40)(rng);
    const Call want = sliding_by_definition(c, window);
    for (const auto& [name, impl] : kImplementations) {
      SCOPED_TRACE(std::string(name) + " window=" + std::to_string(window) + " " + c.describe());
      Call got = contiguous_call(c, QKV_MASK_SLIDING_WINDOW, window, true);
      impl(got.a);
      EXPECT_EQ(compare(got.out, want.out, "out"), "");
      EXPECT_EQ(compare(got.probs, want.probs, "probs"), "");
      // And through per-sequence caches (a decoder with a sliding window reads its cache so).
      Call cached = contiguous_call(c, QKV_MASK_SLIDING_WINDOW, window, false);
      SeparateCaches caches(c);
      caches.attach(cached.a);
      impl(cached.a);
      EXPECT_EQ(compare(cached.out, want.out, "out via caches"), "");
    }
  }
}

TEST(AttentionSlidingWindow, HidesKeysOlderThanTheWindow) {
  // One query over 6 keys, window 2: it sees keys 4 and 5 only, so its output is a mix of
  // v[4] and v[5] and changing v[0..3] changes nothing.
  Case c;
  c.heads_q = c.heads_kv = 1;
  c.head_dim = 2;
  c.cu_q = {0, 1};
  c.cu_k = {0, 6};
  c.q = {1, 0};
  c.k = {1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0};  // equal scores: equal weights
  c.v = {100, 100, 100, 100, 100, 100, 100, 100, 2, 4, 6, 8};
  for (const auto& [name, impl] : kImplementations) {
    SCOPED_TRACE(name);
    Call call = contiguous_call(c, QKV_MASK_SLIDING_WINDOW, 2, true);
    impl(call.a);
    EXPECT_NEAR(call.out[0], 4.0f, 1e-5f);
    EXPECT_NEAR(call.out[1], 6.0f, 1e-5f);
    const std::vector<float> probs{0, 0, 0, 0, 0.5f, 0.5f};
    for (size_t j = 0; j < probs.size(); ++j) EXPECT_NEAR(call.probs[j], probs[j], 1e-6f) << j;
  }
}

TEST(AttentionSlidingWindow, WindowCoveringEveryKeyIsCausal) {
  std::mt19937_64 rng(9);
  const Case c = random_packed(rng, 50);
  for (const auto& [name, impl] : kImplementations) {
    SCOPED_TRACE(name);
    Call causal = contiguous_call(c, QKV_MASK_CAUSAL, 0, true);
    impl(causal.a);
    Call window = contiguous_call(c, QKV_MASK_SLIDING_WINDOW, 1000, true);
    impl(window.a);
    EXPECT_EQ(window.out, causal.out);
    EXPECT_EQ(window.probs, causal.probs);
  }
}

TEST(AttentionSlidingWindow, RejectsAMissingWindowAndHalfSetCaches) {
  std::mt19937_64 rng(3);
  const Case c = random_packed(rng, 10);
  for (const auto& [name, impl] : kImplementations) {
    SCOPED_TRACE(name);
    Call call = contiguous_call(c, QKV_MASK_SLIDING_WINDOW, 0, false);
    EXPECT_THROW(
        {
          try {
            impl(call.a);
          } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find("window >= 1"), std::string::npos) << e.what();
            throw;
          }
        },
        std::invalid_argument);
    // A 1.0-sized struct cannot carry a window: the mask is refused, not read past the end.
    Call old = contiguous_call(c, QKV_MASK_SLIDING_WINDOW, 4, false);
    old.a.struct_size = offsetof(qkv_attention_args, out_stride) + sizeof(size_t);
    EXPECT_THROW(impl(old.a), std::invalid_argument);
    Call half = contiguous_call(c, QKV_MASK_NONE, 0, false);
    SeparateCaches caches(c);
    half.a.k_seqs = caches.k_ptr.data();
    EXPECT_THROW(impl(half.a), std::invalid_argument);
  }
}

}  // namespace
}  // namespace qkv::attention::test
