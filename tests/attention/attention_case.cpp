#include "attention_case.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace qkv::attention::test {
namespace {

const std::filesystem::path kFixtures =
    std::filesystem::path(QKV_SOURCE_DIR) / "tests" / "attention" / "fixtures";
constexpr float kPadValue = -777.0f;  // fills stride padding; must never be read into results

std::vector<float> read_floats(const std::filesystem::path& file, size_t expect) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + file.string());
  std::vector<float> v(expect);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(expect * sizeof(float)));
  if (size_t(in.gcount()) != expect * sizeof(float) || in.peek() != EOF)
    throw std::runtime_error(file.string() + ": expected " + std::to_string(expect) + " floats");
  return v;
}

// Copies packed rows of `row` floats into rows of `stride` floats (padding = kPadValue).
std::vector<float> restride(const std::vector<float>& packed, size_t row, size_t stride) {
  if (stride == 0 || stride == row) return packed;
  const size_t n = packed.size() / row;
  std::vector<float> out(n * stride, kPadValue);
  for (size_t t = 0; t < n; ++t) std::copy_n(&packed[t * row], row, &out[t * stride]);
  return out;
}

}  // namespace

size_t Case::probs_size() const {
  size_t n = 0;
  for (uint32_t b = 0; b < batch(); ++b)
    n += size_t(heads_q) * (cu_q[b + 1] - cu_q[b]) * (cu_k[b + 1] - cu_k[b]);
  return n;
}

double Case::work() const {
  double pairs = 0;
  for (uint32_t b = 0; b < batch(); ++b) {
    const int64_t lq = cu_q[b + 1] - cu_q[b], lk = cu_k[b + 1] - cu_k[b];
    for (int64_t i = 0; i < lq; ++i)
      pairs += causal ? std::clamp<int64_t>(i + lk - lq + 1, 0, lk) : lk;
  }
  return 2.0 * pairs * heads_q * head_dim;
}

std::string Case::describe() const {
  std::ostringstream s;
  s << name << ": batch=" << batch() << " heads_q=" << heads_q << " heads_kv=" << heads_kv
    << " head_dim=" << head_dim << " mask=" << (causal ? "causal" : "none") << " scale=" << scale
    << " strides=" << q_stride << "/" << k_stride << "/" << v_stride << "/" << out_stride
    << " lens(q/k)=";
  for (uint32_t b = 0; b < batch(); ++b)
    s << (b ? "," : "") << cu_q[b + 1] - cu_q[b] << "/" << cu_k[b + 1] - cu_k[b];
  return s.str();
}

Result run(const AttentionFn& impl, const Case& c, bool with_probs) {
  const size_t qrow = size_t(c.heads_q) * c.head_dim, kvrow = size_t(c.heads_kv) * c.head_dim;
  const auto q = restride(c.q, qrow, c.q_stride);
  const auto k = restride(c.k, kvrow, c.k_stride);
  const auto v = restride(c.v, kvrow, c.v_stride);
  const size_t out_row = c.out_stride ? c.out_stride : qrow;
  std::vector<float> out(c.tokens_q() * out_row, kPadValue);
  std::vector<float> probs(with_probs ? c.probs_size() : 0, kPadValue);

  qkv_attention_args a{};
  a.struct_size = sizeof a;
  a.batch = c.batch();
  a.heads_q = c.heads_q;
  a.heads_kv = c.heads_kv;
  a.head_dim = c.head_dim;
  a.mask = c.causal ? QKV_MASK_CAUSAL : QKV_MASK_NONE;
  a.scale = c.scale;
  a.cu_seqlens_q = c.cu_q.data();
  a.cu_seqlens_k = c.cu_k.data();
  a.q = q.data();
  a.k = k.data();
  a.v = v.data();
  a.out = out.data();
  a.probs = with_probs ? probs.data() : nullptr;
  a.q_stride = c.q_stride;
  a.k_stride = c.k_stride;
  a.v_stride = c.v_stride;
  a.out_stride = c.out_stride;
  impl(a);

  Result r;
  r.out.resize(c.tokens_q() * qrow);
  for (size_t t = 0; t < c.tokens_q(); ++t) {
    std::copy_n(&out[t * out_row], qrow, &r.out[t * qrow]);
    for (size_t i = qrow; i < out_row; ++i)
      if (out[t * out_row + i] != kPadValue)
        throw std::runtime_error("impl wrote into out_stride padding of row " + std::to_string(t));
  }
  r.probs = std::move(probs);
  return r;
}

std::vector<std::string> fixture_names() {
  std::ifstream in(kFixtures / "manifest.json");
  if (!in) throw std::runtime_error("cannot open " + (kFixtures / "manifest.json").string());
  const auto manifest = nlohmann::json::parse(in);
  std::vector<std::string> names;
  for (const auto& [file, sha] : manifest.at("files").items()) {
    (void)sha;
    if (file.size() > 5 && file.ends_with(".json"))
      names.push_back(file.substr(0, file.size() - 5));
  }
  return names;
}

Case load_fixture(const std::string& name) {
  std::ifstream in(kFixtures / (name + ".json"));
  if (!in) throw std::runtime_error("cannot open fixture " + name);
  const auto j = nlohmann::json::parse(in);
  Case c;
  c.name = name;
  c.heads_q = j.at("heads_q");
  c.heads_kv = j.at("heads_kv");
  c.head_dim = j.at("head_dim");
  c.causal = j.at("mask") == "causal";
  c.scale = j.at("scale");
  c.cu_q = j.at("cu_seqlens_q").get<std::vector<int32_t>>();
  c.cu_k = j.at("cu_seqlens_k").get<std::vector<int32_t>>();
  const auto& files = j.at("files");
  const size_t qn = c.tokens_q() * c.heads_q * c.head_dim,
               kn = c.tokens_k() * c.heads_kv * c.head_dim;
  c.q = read_floats(kFixtures / files.at("q").get<std::string>(), qn);
  c.k = read_floats(kFixtures / files.at("k").get<std::string>(), kn);
  c.v = read_floats(kFixtures / files.at("v").get<std::string>(), kn);
  c.expected_out = read_floats(kFixtures / files.at("out").get<std::string>(), qn);
  if (files.contains("probs"))
    c.expected_probs =
        read_floats(kFixtures / files.at("probs").get<std::string>(), c.probs_size());
  return c;
}

Case random_case(std::mt19937_64& rng, const RandomSpec& spec) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Case c;
  c.name = "random";
  c.head_dim = spec.dims[pick(0, int(spec.dims.size()) - 1)];
  c.heads_q = pick(1, spec.max_heads);
  std::vector<uint32_t> divisors;
  for (uint32_t d = 1; d <= c.heads_q; ++d)
    if (c.heads_q % d == 0) divisors.push_back(d);
  c.heads_kv = divisors[pick(0, int(divisors.size()) - 1)];
  c.causal = pick(0, 1) == 1;
  if (pick(0, 3) == 0) c.scale = std::uniform_real_distribution<float>(0.05f, 1.0f)(rng);
  const bool cross = pick(0, 1) == 1;
  const int batch = pick(1, spec.max_batch);
  for (int b = 0; b < batch; ++b) {
    const int lq = pick(spec.min_len, spec.max_len);
    const int lk = cross ? pick(spec.min_len, spec.max_len) : lq;
    c.cu_q.push_back(c.cu_q.back() + lq);
    c.cu_k.push_back(c.cu_k.back() + lk);
  }
  if (pick(0, 3) == 0) {
    c.q_stride = size_t(c.heads_q) * c.head_dim + pick(1, 9);
    c.k_stride = size_t(c.heads_kv) * c.head_dim + pick(1, 9);
    c.v_stride = size_t(c.heads_kv) * c.head_dim + pick(0, 9);
    c.out_stride = size_t(c.heads_q) * c.head_dim + pick(0, 9);
  }
  // Values of attention-like magnitude; an occasional large spread exercises the max shift.
  const float spread = pick(0, 4) == 0 ? 4.0f : 1.0f;
  std::normal_distribution<float> dist(0.0f, spread);
  auto fill = [&](std::vector<float>& x, size_t n) {
    x.resize(n);
    for (float& e : x) e = dist(rng);
  };
  fill(c.q, c.tokens_q() * c.heads_q * c.head_dim);
  fill(c.k, c.tokens_k() * c.heads_kv * c.head_dim);
  fill(c.v, c.tokens_k() * c.heads_kv * c.head_dim);
  return c;
}

double float32_slack(const Case& c) {
  auto max_abs = [](const std::vector<float>& x) {
    double m = 0;
    for (float e : x) m = std::max(m, std::abs(double(e)));
    return m;
  };
  const double scale = c.scale > 0 ? c.scale : 1.0 / std::sqrt(double(c.head_dim));
  const double logit_error = 0x1p-23 * scale * max_abs(c.q) * max_abs(c.k) * c.head_dim;
  return 2 * logit_error * max_abs(c.v);
}

std::string compare(const std::vector<float>& got, const std::vector<float>& ref,
                    const std::string& what, double slack) {
  if (got.size() != ref.size())
    return what + ": size " + std::to_string(got.size()) + " != " + std::to_string(ref.size());
  double max_ref = 0;
  for (float r : ref) max_ref = std::max(max_ref, std::abs(double(r)));
  const double tol = 1e-5 + 1e-4 * max_ref + slack;
  size_t worst = 0;
  double worst_err = -1;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(double(got[i]) - double(ref[i]));
    if (!(err <= worst_err)) worst_err = err, worst = i;  // NaN counts as the worst
  }
  if (got.empty() || worst_err <= tol) return "";
  std::ostringstream s;
  s << what << ": element " << worst << " got " << got[worst] << " want " << ref[worst]
    << " (|diff| " << worst_err << " > tolerance " << tol << ")";
  return s.str();
}

uint64_t test_seed() {
  static const uint64_t seed = []() -> uint64_t {
    if (const char* env = std::getenv("QKV_ATTENTION_SEED")) return std::strtoull(env, nullptr, 10);
    return static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  }();
  std::printf("attention property seed: %llu (replay with QKV_ATTENTION_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  return seed;
}

}  // namespace qkv::attention::test
