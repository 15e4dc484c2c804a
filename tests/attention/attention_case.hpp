// Test helpers for attention implementations: a self-owning packed varlen batch (inputs, outputs,
// cu_seqlens, strides), fixture loading, random cases and the per-tensor tolerance.
#ifndef QKV_TESTS_ATTENTION_CASE_HPP
#define QKV_TESTS_ATTENTION_CASE_HPP

#include <qkv/abi.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace qkv::attention::test {

struct Case {
  std::string name;
  uint32_t heads_q = 1, heads_kv = 1, head_dim = 1;
  bool causal = false;
  float scale = 0;
  std::vector<int32_t> cu_q{0}, cu_k{0};
  size_t q_stride = 0, k_stride = 0, v_stride = 0, out_stride = 0;  // 0: packed
  std::vector<float> q, k, v;
  std::vector<float> expected_out, expected_probs;  // from a fixture; may be empty

  uint32_t batch() const { return static_cast<uint32_t>(cu_q.size() - 1); }
  size_t tokens_q() const { return static_cast<size_t>(cu_q.back()); }
  size_t tokens_k() const { return static_cast<size_t>(cu_k.back()); }
  size_t probs_size() const;
  // Multiply-adds of one forward call (q.k and p.v over visible pairs): the work cap's unit.
  double work() const;
  std::string describe() const;
};

// What an implementation produced for a case.
struct Result {
  std::vector<float> out, probs;
};

// forward(args) of one implementation.
using AttentionFn = std::function<void(const qkv_attention_args&)>;

// Runs `impl` on `c` (probs only when asked); output rows honour out_stride, and the padding
// between rows is checked to stay untouched.
Result run(const AttentionFn& impl, const Case& c, bool with_probs);

// Loads tests/attention/fixtures/<name>.json and its .bin files.
Case load_fixture(const std::string& name);
std::vector<std::string> fixture_names();

// A random case: lengths in [min_len, max_len] (ragged), heads 1..max_heads, head_dim from
// `dims`, mask and self/cross chosen at random, GQA/MQA at random, sometimes padded strides.
struct RandomSpec {
  int min_len = 1, max_len = 64, max_batch = 4, max_heads = 16;
  std::vector<uint32_t> dims{32, 64, 80, 128};
};
Case random_case(std::mt19937_64& rng, const RandomSpec& spec);

// |a - b| <= 1e-5 + 1e-4 * max|ref| + slack elementwise; returns "" or a description of the
// worst miss.
std::string compare(const std::vector<float>& got, const std::vector<float>& ref,
                    const std::string& what, double slack = 0);

// What float32 arithmetic alone can move an output by in case `c`: a logit is a head_dim-long
// dot product, so its rounding error grows with scale * max|q| * max|k| * head_dim, and an output
// moves by up to twice that times max|v|. Negligible for unit-variance inputs; it matters for the
// wide-spread cases, where a flat relative tolerance made the random test fail about 1 run in 50
// with a correct kernel (seed 1796161809141367746).
double float32_slack(const Case& c);

// The seed from QKV_ATTENTION_SEED, else from the clock; printed so a failure can be replayed.
uint64_t test_seed();

}  // namespace qkv::attention::test

#endif
