// Contract details common to both implementations: argument checks, strides, probabilities rows,
// and flash's thread-count invariance.
#include "attention_case.hpp"
#include "flash_attention.hpp"
#include "reference_attention.hpp"

#include <qkv/plugin.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <tbb/task_arena.h>

#include <cmath>
#include <cstring>
#include <numeric>

namespace qkv::attention::test {
namespace {

using ::testing::HasSubstr;

const AttentionFn kImplementations[] = {reference_forward, flash_forward};

Case small_case() {
  std::mt19937_64 rng(7);
  RandomSpec spec;
  spec.max_len = 20;
  spec.max_heads = 4;
  spec.dims = {16};
  Case c = random_case(rng, spec);
  c.q_stride = c.k_stride = c.v_stride = c.out_stride = 0;
  return c;
}

// The error message of forward(args), or "" when it did not throw. The implementations throw
// std::invalid_argument (qkv/attention_check.hpp); the SDK's trampolines turn it into
// QKV_ERR_INVALID_ARGUMENT (plugin_test checks that through the plugins).
std::string error_of(const AttentionFn& impl, const qkv_attention_args& a) {
  try {
    impl(a);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(AttentionContract, RejectsBrokenArgumentsWithTheFieldName) {
  std::vector<float> buf(64, 1.0f), out(64);
  std::vector<int32_t> cu{0, 2}, bad_cu{0, 3, 2};
  auto good = [&] {
    qkv_attention_args a{};
    a.struct_size = sizeof a;
    a.batch = 1;
    a.heads_q = a.heads_kv = 2;
    a.head_dim = 4;
    a.cu_seqlens_q = a.cu_seqlens_k = cu.data();
    a.q = a.k = a.v = buf.data();
    a.out = out.data();
    return a;
  };
  for (const auto& impl : kImplementations) {
    EXPECT_EQ(error_of(impl, good()), "");
    auto a = good();
    a.heads_q = 3;
    EXPECT_THAT(error_of(impl, a), HasSubstr("not a multiple of heads_kv"));
    a = good();
    a.heads_kv = 0;
    EXPECT_THAT(error_of(impl, a), HasSubstr("heads_q and heads_kv"));
    a = good();
    a.mask = 9;
    EXPECT_THAT(error_of(impl, a), HasSubstr("mask"));
    a = good();
    a.batch = 2;
    a.cu_seqlens_q = bad_cu.data();
    EXPECT_THAT(error_of(impl, a), HasSubstr("cu_seqlens_q decreases at index 2"));
    a = good();
    a.cu_seqlens_k = nullptr;
    EXPECT_THAT(error_of(impl, a), HasSubstr("cu_seqlens_k is NULL"));
    a = good();
    a.q_stride = 5;
    EXPECT_THAT(error_of(impl, a), HasSubstr("q_stride"));
    a = good();
    a.out = nullptr;
    EXPECT_THAT(error_of(impl, a), HasSubstr("NULL"));
    a = good();
    a.head_dim = 0;
    EXPECT_THAT(error_of(impl, a), HasSubstr("head_dim"));
    a = good();
    a.struct_size = 8;
    EXPECT_THAT(error_of(impl, a), HasSubstr("struct_size"));
    a = good();
    a.scale = NAN;
    EXPECT_THAT(error_of(impl, a), HasSubstr("scale"));
  }
}

TEST(AttentionContract, EmptyBatchAndEmptySequencesAreFine) {
  std::vector<int32_t> cu0{0}, cu{0, 0, 0};
  for (const auto& impl : kImplementations) {
    qkv_attention_args a{};
    a.struct_size = sizeof a;
    a.heads_q = a.heads_kv = a.head_dim = 1;
    a.cu_seqlens_q = a.cu_seqlens_k = cu0.data();
    EXPECT_NO_THROW(impl(a));
    a.batch = 2;
    a.cu_seqlens_q = a.cu_seqlens_k = cu.data();
    EXPECT_NO_THROW(impl(a));
  }
}

TEST(AttentionContract, StridedRowsGiveThePackedResult) {
  Case c = small_case();
  for (const auto& impl : kImplementations) {
    const Result packed = run(impl, c, false);
    Case s = c;
    s.q_stride = size_t(c.heads_q) * c.head_dim + 3;
    s.k_stride = size_t(c.heads_kv) * c.head_dim + 5;
    s.v_stride = size_t(c.heads_kv) * c.head_dim + 1;
    s.out_stride = size_t(c.heads_q) * c.head_dim + 7;
    const Result strided = run(impl, s, false);  // run() checks the padding stays untouched
    EXPECT_EQ(packed.out, strided.out);
  }
}

TEST(AttentionContract, ProbabilityRowsSumToOneAndMatchTheOutput) {
  std::mt19937_64 rng(11);
  RandomSpec spec;
  spec.max_len = 150;  // several key blocks
  spec.max_heads = 3;
  spec.dims = {8};
  const Case c = random_case(rng, spec);
  SCOPED_TRACE(c.describe());
  const Result ref = run(reference_forward, c, true);
  const Result fl = run(flash_forward, c, true);
  EXPECT_EQ(compare(fl.probs, ref.probs, "probs"), "");
  EXPECT_EQ(compare(fl.out, ref.out, "out"), "");
  size_t at = 0;
  for (uint32_t b = 0; b < c.batch(); ++b) {
    const int64_t lq = c.cu_q[b + 1] - c.cu_q[b], lk = c.cu_k[b + 1] - c.cu_k[b];
    for (int64_t r = 0; r < lq * c.heads_q; ++r, at += lk) {
      const double sum = std::accumulate(&fl.probs[at], &fl.probs[at] + lk, 0.0);
      const int64_t i = r % lq;
      const bool sees = !c.causal || i + lk - lq >= 0;
      EXPECT_NEAR(sum, sees && lk > 0 ? 1.0 : 0.0, 1e-5) << "sequence " << b << " row " << r;
    }
  }
}

TEST(AttentionContract, FlashGivesTheSameBytesOnOneAndTwoThreads) {
  std::mt19937_64 rng(5);
  RandomSpec spec;
  spec.min_len = 60;
  spec.max_len = 200;
  spec.max_heads = 4;
  spec.dims = {64};
  for (int i = 0; i < 3; ++i) {
    const Case c = random_case(rng, spec);
    SCOPED_TRACE(c.describe());
    Result one, two;
    tbb::task_arena(1).execute([&] { one = run(flash_forward, c, true); });
    tbb::task_arena(2).execute([&] { two = run(flash_forward, c, true); });
    ASSERT_EQ(one.out.size(), two.out.size());
    EXPECT_EQ(std::memcmp(one.out.data(), two.out.data(), one.out.size() * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(one.probs.data(), two.probs.data(), one.probs.size() * sizeof(float)), 0);
  }
}

TEST(AttentionContract, CausalIgnoresKeysPastTheDiagonal) {
  // Changing keys and values a query cannot see must not change its output.
  Case c = small_case();
  c.causal = true;
  c.cu_q = {0, 30};
  c.cu_k = {0, 80};  // bottom-right: query i sees keys j <= i + 50
  std::mt19937_64 rng(3);
  std::normal_distribution<float> dist;
  auto fill = [&](std::vector<float>& x, size_t n) {
    x.resize(n);
    for (float& e : x) e = dist(rng);
  };
  fill(c.q, 30 * c.heads_q * c.head_dim);
  fill(c.k, 80 * c.heads_kv * c.head_dim);
  fill(c.v, 80 * c.heads_kv * c.head_dim);
  Case later = c;
  const size_t row = size_t(c.heads_kv) * c.head_dim;
  for (size_t i = 51 * row; i < later.k.size(); ++i) later.k[i] = 1e3f, later.v[i] = -1e3f;
  for (const auto& impl : kImplementations) {
    const Result a = run(impl, c, false), b = run(impl, later, false);
    const size_t qrow = size_t(c.heads_q) * c.head_dim;
    for (size_t i = 0; i < qrow; ++i) EXPECT_EQ(a.out[i], b.out[i]);  // query 0 sees keys 0..50
  }
}

}  // namespace
}  // namespace qkv::attention::test
