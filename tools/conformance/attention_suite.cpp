// Attention conformance: the plugin against the reference plugin on random packed varlen
// batches of every mask kind and head layout, then properties the contract promises (fully
// masked rows are zeros, probabilities sum to 1) and calls from many threads on one instance.
#include <cmath>
#include <random>
#include <sstream>
#include <thread>

#include "attention_case.hpp"
#include "naive_attention.hpp"
#include "host/attention_handle.hpp"
#include "host/plugin_error.hpp"
#include "host/plugin_instance.hpp"
#include "suites.hpp"

namespace qkv::conformance {
namespace {

constexpr float kUnwritten = 12345.0f;  // output rows a plugin never wrote keep this

struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class AttentionSubject {
 public:
  // self_check: also hold the reference to the plain definition (when the plugin under test is
  // the reference itself, comparing it with itself alone would prove nothing).
  AttentionSubject(host::AttentionHandle plugin, host::AttentionHandle reference, uint64_t seed,
                   bool self_check)
      : plugin_(std::move(plugin)),
        reference_(std::move(reference)),
        rng_(seed),
        self_check_(self_check) {}

  std::mt19937_64& rng() { return rng_; }
  int len(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  uint32_t head_dim() {
    static constexpr uint32_t dims[] = {32, 64, 80, 128, 16};
    return dims[len(0, 4)];
  }

  // Runs plugin and reference on one random case of `shape` and checks everything.
  void check(Checker& c, const AttentionShape& shape) {
    c.count_case();
    AttentionCase ac(shape, rng_);
    std::vector<float> ref(ac.out_size(), 0.0f), out(ac.out_size(), kUnwritten);
    std::vector<float> ref_p, out_p;
    if (shape.probs) {
      ref_p.assign(ac.probs_size(), 0.0f);
      out_p.assign(ac.probs_size(), kUnwritten);
    }
    reference_.forward(ac.args(ref.data(), shape.probs ? ref_p.data() : nullptr));
    if (self_check_) {
      std::vector<float> plain(ac.out_size(), 0.0f), plain_p(ac.probs_size(), 0.0f);
      naive_attention(ac.args(plain.data(), shape.probs ? plain_p.data() : nullptr));
      if (auto bad = compare(ac, ref, plain, "reference differs from the plain definition"))
        c.fail(*bad);
      if (shape.probs)
        if (auto bad = compare_flat(ref_p, plain_p,
                                    "reference probabilities differ from the "
                                    "plain definition"))
          c.fail(*bad + "; case: " + shape.describe());
    }
    try {
      plugin_.forward(ac.args(out.data(), shape.probs ? out_p.data() : nullptr, true));
    } catch (const PluginError& e) {
      if (shape.probs && e.code() == QKV_ERR_UNSUPPORTED) throw Unsupported(e.what());
      c.fail(std::string("forward failed: ") + e.what() + "; case: " + shape.describe());
      return;
    }
    if (auto bad = compare(ac, out, ref, "output differs from the reference")) c.fail(*bad);
    check_masked_rows(c, ac, out);
    if (shape.probs) {
      if (auto bad = compare_flat(out_p, ref_p, "probabilities differ from the reference"))
        c.fail(*bad + "; case: " + shape.describe());
      check_prob_sums(c, ac, out_p);
    }
  }

  host::AttentionHandle& plugin() { return plugin_; }
  host::AttentionHandle& reference() { return reference_; }

 private:
  static bool row_masked(const AttentionShape& s, size_t b, int32_t i) {
    if (s.lk[b] == 0) return true;
    return s.mask != QKV_MASK_NONE && i + s.lk[b] - s.lq[b] < 0;
  }

  void check_masked_rows(Checker& c, const AttentionCase& ac, const std::vector<float>& out) {
    const auto& s = ac.shape;
    for (size_t b = 0; b < s.lq.size(); ++b)
      for (int32_t i = 0; i < s.lq[b]; ++i) {
        if (!row_masked(s, b, i)) continue;
        const float* row = out.data() + (ac.cu_q[b] + i) * ac.q_stride;
        for (size_t j = 0; j < size_t{s.heads_q} * s.head_dim; ++j)
          if (row[j] != 0.0f) {
            c.fail("fully masked row (sequence " + std::to_string(b) + ", query " +
                   std::to_string(i) + ") is " + std::to_string(row[j]) +
                   ", must be exactly 0 (never NaN); case: " + s.describe());
            return;
          }
      }
  }

  void check_prob_sums(Checker& c, const AttentionCase& ac, const std::vector<float>& p) {
    const auto& s = ac.shape;
    size_t at = 0;
    for (size_t b = 0; b < s.lq.size(); ++b)
      for (uint32_t h = 0; h < s.heads_q; ++h)
        for (int32_t i = 0; i < s.lq[b]; ++i) {
          double sum = 0;
          for (int32_t j = 0; j < s.lk[b]; ++j) sum += p[at++];
          const double want = row_masked(s, b, i) ? 0.0 : 1.0;
          if (!(std::fabs(sum - want) <= 1e-4)) {
            c.fail("probabilities of sequence " + std::to_string(b) + ", head " +
                   std::to_string(h) + ", query " + std::to_string(i) + " sum to " +
                   std::to_string(sum) + ", expected " + std::to_string(want) +
                   "; case: " + s.describe());
            return;
          }
        }
  }

  host::AttentionHandle plugin_, reference_;
  std::mt19937_64 rng_;
  bool self_check_;
};

AttentionShape shape(AttentionSubject& r, uint32_t hq, uint32_t hkv, uint32_t mask) {
  AttentionShape s;
  s.heads_q = hq;
  s.heads_kv = hkv;
  s.head_dim = r.head_dim();
  s.mask = mask;
  return s;
}

// Sequences with equal query and key lengths (self-attention).
void self_lengths(AttentionSubject& r, AttentionShape& s, int batch, int lo, int hi) {
  for (int b = 0; b < batch; ++b) {
    s.lq.push_back(r.len(lo, hi));
    s.lk.push_back(s.lq.back());
  }
}

void other_lengths(AttentionSubject& r, AttentionShape& s, int batch, int lo, int hi) {
  for (int b = 0; b < batch; ++b) {
    s.lq.push_back(r.len(lo, hi));
    int k;
    do k = r.len(lo, hi);
    while (k == s.lq.back() && hi > lo);
    s.lk.push_back(k);
  }
}

void run_concurrency(Checker& c, AttentionSubject& r, unsigned threads) {
  std::vector<AttentionCase> cases;
  std::vector<std::vector<float>> expected;
  for (int i = 0; i < 12; ++i) {
    auto s = shape(r, 4, (i % 3 == 0) ? 1 : (i % 3 == 1 ? 2 : 4), i % 2 ? QKV_MASK_CAUSAL : 0);
    (i % 4 == 3 ? other_lengths : self_lengths)(r, s, r.len(1, 4), 0, 40);
    cases.emplace_back(s, r.rng());
    expected.emplace_back(cases.back().out_size(), 0.0f);
    r.plugin().forward(cases.back().args(expected.back().data(), nullptr));  // one thread
    std::vector<float> ref(cases.back().out_size(), 0.0f);
    r.reference().forward(cases.back().args(ref.data(), nullptr));
    if (auto bad = compare(cases.back(), expected.back(), ref, "single-threaded output"))
      c.fail(*bad);
  }
  std::vector<std::string> errors(threads);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      try {
        for (int round = 0; round < 4; ++round)
          for (size_t i = 0; i < cases.size(); ++i) {
            const size_t k = (i + t * 5 + round) % cases.size();
            std::vector<float> out(cases[k].out_size(), kUnwritten);
            r.plugin().forward(cases[k].args(out.data(), nullptr));
            if (out != expected[k]) {
              errors[t] = "thread " + std::to_string(t) + ": case " + std::to_string(k) +
                          " gave other bytes than the same call on one thread; case: " +
                          cases[k].shape.describe();
              return;
            }
          }
      } catch (const std::exception& e) {
        errors[t] = "thread " + std::to_string(t) + ": " + e.what();
      }
    });
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (!e.empty()) c.fail(e);
  c.count_case();
}

}  // namespace

void attention_suite(Report& report, const host::LoadedPlugin& plugin, const Options& o) {
  host::PluginRegistry ref_registry;
  const host::LoadedPlugin* ref_plugin = nullptr;
  if (plugin.name == "attention-reference") {
    ref_plugin = &plugin;
  } else if (!ref_registry.load_file(o.reference)) {
    report.run("reference", "load the reference attention plugin", [&](Checker& c) {
      c.fail(ref_registry.errors().empty() ? "cannot load " + o.reference.string()
                                           : ref_registry.errors().back());
    });
    return;
  } else {
    ref_plugin = ref_registry.find(QKV_KIND_ATTENTION, "attention-reference");
    if (!ref_plugin) {
      report.run("reference", "load the reference attention plugin", [&](Checker& c) {
        c.fail(o.reference.string() + " is not the attention-reference plugin");
      });
      return;
    }
  }
  std::optional<AttentionSubject> subject;
  if (!report.run("create", "create an instance with the given config", [&](Checker& c) {
        c.count_case();
        subject.emplace(
            host::AttentionHandle(
                host::create_instance(plugin, o.config, o.config_dir, o.config_file)),
            host::AttentionHandle(host::create_instance(*ref_plugin, YAML::Node(), o.config_dir)),
            o.seed, ref_plugin == &plugin);
      }))
    return;
  auto& r = *subject;

  report.run("self-attention", "no mask, equal lengths, MHA, default scale", [&](Checker& c) {
    for (int i = 0; i < 8; ++i) {
      const uint32_t h = 1u << r.len(0, 2);
      auto s = shape(r, h, h, QKV_MASK_NONE);
      self_lengths(r, s, r.len(1, 3), 1, 48);
      r.check(c, s);
    }
  });
  report.run("scale", "custom softmax scale", [&](Checker& c) {
    for (float scale : {0.05f, 0.5f, 1.0f, 2.5f}) {
      auto s = shape(r, 2, 2, QKV_MASK_NONE);
      s.scale = scale;
      self_lengths(r, s, 2, 1, 32);
      r.check(c, s);
    }
  });
  report.run("causal-mask", "causal, equal query and key lengths", [&](Checker& c) {
    for (int i = 0; i < 8; ++i) {
      auto s = shape(r, 2, 2, QKV_MASK_CAUSAL);
      self_lengths(r, s, r.len(1, 3), 1, 48);
      r.check(c, s);
    }
  });
  report.run("causal-bottom-right", "causal, query and key lengths differ (bottom-right)",
             [&](Checker& c) {
               for (int i = 0; i < 8; ++i) {
                 auto s = shape(r, 2, 2, QKV_MASK_CAUSAL);
                 other_lengths(r, s, r.len(1, 3), 1, 40);
                 r.check(c, s);
               }
             });
  report.run("cross-attention", "no mask, queries and keys from different sequences",
             [&](Checker& c) {
               for (int i = 0; i < 8; ++i) {
                 auto s = shape(r, 4, 4, QKV_MASK_NONE);
                 other_lengths(r, s, r.len(1, 3), 1, 40);
                 r.check(c, s);
               }
             });
  report.run("gqa-mqa", "heads_q a multiple of heads_kv (GQA, MQA)", [&](Checker& c) {
    for (auto [hq, hkv] : {std::pair{4u, 2u}, std::pair{8u, 2u}, std::pair{8u, 1u},
                           std::pair{6u, 3u}, std::pair{16u, 4u}}) {
      for (uint32_t mask : {0u, 1u}) {
        auto s = shape(r, hq, hkv, mask);
        self_lengths(r, s, 2, 1, 24);
        r.check(c, s);
      }
    }
  });
  report.run("ragged-batches", "many sequences of lengths 0..40 in one call", [&](Checker& c) {
    for (uint32_t mask : {0u, 1u, 0u, 1u}) {
      auto s = shape(r, 2, 1, mask);
      (mask ? self_lengths : other_lengths)(r, s, r.len(6, 12), 0, 40);
      r.check(c, s);
    }
  });
  report.run("strides", "token rows wider than heads*head_dim", [&](Checker& c) {
    for (uint32_t mask : {0u, 1u}) {
      auto s = shape(r, 4, 2, mask);
      s.pad = 5;
      other_lengths(r, s, 2, 1, 24);
      r.check(c, s);
    }
  });
  report.run("masked-rows", "rows with no visible key are zeros, never NaN", [&](Checker& c) {
    for (auto [lq, lk] : {std::pair{10, 3}, std::pair{5, 0}, std::pair{7, 1}}) {
      auto s = shape(r, 2, 2, QKV_MASK_CAUSAL);
      s.lq = {lq, 3};
      s.lk = {lk, 3};
      r.check(c, s);
      s.mask = QKV_MASK_NONE;
      s.lk = {0, 2};
      r.check(c, s);
    }
  });
  report.run("probabilities", "optional probabilities output, rows summing to 1", [&](Checker& c) {
    try {
      for (uint32_t mask : {0u, 1u}) {
        auto s = shape(r, 4, 2, mask);
        other_lengths(r, s, 2, 0, 24);
        s.probs = true;
        r.check(c, s);
        s.lk = s.lq;
        r.check(c, s);
      }
    } catch (const Unsupported& e) {
      c.skip(std::string("the plugin does not output probabilities: ") + e.what());
    }
  });
  // ABI 1.1 fields: a 1.0 plugin never gets them (the host refuses such calls), so skip.
  const bool v1_1 = plugin.abi_minor >= 1;
  const std::string old_abi = "the plugin speaks ABI 1." + std::to_string(plugin.abi_minor) +
                              "; these fields came with ABI 1.1";
  report.run("sliding-window", "QKV_MASK_SLIDING_WINDOW (1.1): keys i' - window < j <= i'",
             [&](Checker& c) {
               if (!v1_1) return c.skip(old_abi);
               for (int i = 0; i < 8; ++i) {
                 auto s = shape(r, i % 2 ? 4 : 2, 2, QKV_MASK_SLIDING_WINDOW);
                 s.window = uint32_t(r.len(1, 24));
                 (i % 4 < 2 ? self_lengths : other_lengths)(r, s, r.len(1, 3), 1, 72);
                 s.probs = i % 3 == 0;
                 r.check(c, s);
               }
             });
  report.run("kv-caches", "per-sequence K/V caches (1.1 k_seqs/v_seqs), as decode reads them",
             [&](Checker& c) {
               if (!v1_1) return c.skip(old_abi);
               for (uint32_t mask :
                    {QKV_MASK_NONE, QKV_MASK_CAUSAL, QKV_MASK_SLIDING_WINDOW, QKV_MASK_CAUSAL}) {
                 auto s = shape(r, 4, 1 + mask % 2, mask);
                 s.window = 7;
                 s.caches = true;
                 s.pad = mask == QKV_MASK_CAUSAL ? 3 : 0;
                 self_lengths(r, s, r.len(1, 4), 0, 40);
                 for (auto& lq : s.lq) lq = std::min(lq, 1);  // one new query per sequence
                 r.check(c, s);
               }
             });
  std::ostringstream what;
  what << o.threads << " threads calling one instance; same bytes as one thread";
  report.run("concurrency", what.str(), [&](Checker& c) { run_concurrency(c, r, o.threads); });
}

}  // namespace qkv::conformance
