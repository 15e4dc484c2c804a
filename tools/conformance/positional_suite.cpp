// Positional conformance: determinism, bounds (a position past the table is an error, never a
// crash, and leaves the data alone), the additive or rotary contract, strides, and calls from
// many threads on one instance. Plugins that ask the host for a weight tensor get a synthetic
// [table_rows, table_dim] table.
#include <cmath>
#include <random>
#include <sstream>
#include <thread>

#include "host/plugin_error.hpp"
#include "host/plugin_instance.hpp"
#include "host/positional_handle.hpp"
#include "suites.hpp"

namespace qkv::conformance {
namespace {

struct Problem {
  uint32_t heads = 1, dim = 64;  // additive: dim is the row width; rotary: head_dim
  size_t stride = 0;
  std::vector<int32_t> positions;
  std::vector<float> x;
};

class PositionalSubject {
 public:
  PositionalSubject(std::shared_ptr<host::PluginInstance> instance, uint64_t seed,
                    uint32_t table_dim)
      : instance_(instance), h_(std::move(instance)), rng_(seed) {
    const auto& info = h_.info();
    dim_ = info.dim ? info.dim : (rotary() ? 64 : table_dim);
    limit_ = info.max_positions > 0 ? info.max_positions : 100000;
  }
  bool rotary() const { return h_.rotary(); }
  const host::PositionalHandle& handle() const { return h_; }
  int64_t max_positions() const { return h_.info().max_positions; }

  Problem problem(size_t n, uint32_t pad = 0) {
    Problem p;
    p.heads = rotary() ? 3 : 1;
    p.dim = dim_;
    p.stride = size_t{p.heads} * p.dim + pad;
    std::uniform_int_distribution<int64_t> pos(0, limit_ - 1);
    std::normal_distribution<float> val;
    for (size_t t = 0; t < n; ++t) p.positions.push_back(static_cast<int32_t>(pos(rng_)));
    p.x.resize(n * p.stride);
    for (auto& v : p.x) v = val(rng_);
    return p;
  }
  void apply(Problem& p) const {
    if (rotary())
      h_.rotate(p.x.data(), p.heads, p.dim, p.stride, p.positions);
    else
      h_.add(p.x.data(), p.dim, p.stride, p.positions);
  }
  // The plugin's own entry point, past the host's argument checks (which refuse e.g. negative
  // positions before a plugin sees them): what the plugin itself does with bad input.
  host::ErrorPtr apply_raw(Problem& p) const {
    const auto* api = static_cast<const qkv_positional_api*>(instance_->api());
    auto lease = instance_->acquire();
    return host::ErrorPtr(rotary() ? api->rotate(lease.get(), p.x.data(), p.positions.size(),
                                                 p.heads, p.dim, p.stride, p.positions.data())
                                   : api->add(lease.get(), p.x.data(), p.positions.size(), p.dim,
                                              p.stride, p.positions.data()));
  }

 private:
  std::shared_ptr<host::PluginInstance> instance_;
  host::PositionalHandle h_;
  std::mt19937_64 rng_;
  uint32_t dim_ = 64;
  int64_t limit_ = 0;
};

double dot(const float* a, const float* b, uint32_t n) {
  double s = 0;
  for (uint32_t i = 0; i < n; ++i) s += double{a[i]} * b[i];
  return s;
}

void check_bounds(Checker& c, PositionalSubject& r) {
  std::vector<int32_t> bad = {-1};
  if (r.max_positions() > 0) bad.push_back(static_cast<int32_t>(r.max_positions()));
  for (int32_t b : bad) {
    c.count_case();
    auto p = r.problem(4);
    p.positions[2] = b;
    const auto before = p.x;
    auto error = r.apply_raw(p);
    const std::string pos = "position " + std::to_string(b);
    if (!error) {
      c.fail(pos + " was accepted (max_positions " + std::to_string(r.max_positions()) +
             "); expected QKV_ERR_OUT_OF_RANGE");
      continue;
    }
    // A negative position may also be called an invalid argument; one past the end may not.
    const bool ok =
        error->code == QKV_ERR_OUT_OF_RANGE || (b < 0 && error->code == QKV_ERR_INVALID_ARGUMENT);
    c.expect(ok, pos + " gave error code " + std::to_string(error->code) + " (" + error->message +
                     "), expected QKV_ERR_OUT_OF_RANGE");
    c.expect(!error->message.empty(), pos + ": the error has no message");
    c.expect(p.x == before, "a refused call changed the data (" + pos + ")");
  }
}

void check_additive(Checker& c, PositionalSubject& r) {
  // x + PE(pos) == PE(pos) added to zeros, then to x: the vector depends on the position only.
  auto p = r.problem(16);
  Problem zeros = p;
  std::fill(zeros.x.begin(), zeros.x.end(), 0.0f);
  r.apply(zeros);
  const auto x0 = p.x;
  r.apply(p);
  for (size_t t = 0; t < p.positions.size(); ++t) {
    c.count_case();
    for (uint32_t i = 0; i < p.dim; ++i) {
      const size_t at = t * p.stride + i;
      const float want = x0[at] + zeros.x[at];
      if (!(std::fabs(p.x[at] - want) <= 1e-6f * (1 + std::fabs(want)))) {
        c.fail("token " + std::to_string(t) + " dim " + std::to_string(i) + ": x + PE gave " +
               std::to_string(p.x[at]) + " but x[i] + PE-on-zeros[i] is " + std::to_string(want) +
               " (the added vector must not depend on x)");
        return;
      }
    }
  }
  // Equal positions give equal vectors.
  auto q = r.problem(2);
  q.positions[1] = q.positions[0];
  std::fill(q.x.begin(), q.x.end(), 0.0f);
  r.apply(q);
  c.expect(std::equal(q.x.begin(), q.x.begin() + q.dim, q.x.begin() + q.stride),
           "the same position gave two different vectors in one call");
}

void check_rotary(Checker& c, PositionalSubject& r) {
  auto p = r.problem(16);
  const auto x0 = p.x;
  r.apply(p);
  for (size_t t = 0; t < p.positions.size(); ++t)
    for (uint32_t h = 0; h < p.heads; ++h) {
      c.count_case();
      const size_t at = t * p.stride + size_t{h} * p.dim;
      const double n0 = std::sqrt(dot(&x0[at], &x0[at], p.dim));
      const double n1 = std::sqrt(dot(&p.x[at], &p.x[at], p.dim));
      if (!(std::fabs(n1 - n0) <= 1e-5 * (1 + n0))) {
        c.fail("token " + std::to_string(t) + " head " + std::to_string(h) + " at position " +
               std::to_string(p.positions[t]) + ": norm " + std::to_string(n0) + " became " +
               std::to_string(n1) + " (a rotation keeps norms)");
        return;
      }
    }
  // q.k depends only on the position difference: (m, n) and (m + s, n + s) score the same.
  auto base = r.problem(1);
  const int64_t lim = r.max_positions() > 0 ? r.max_positions() : 100000;
  for (auto [m, n, s] : {std::tuple{5, 2, 3}, std::tuple{0, 7, 11}, std::tuple{20, 20, 9}}) {
    if (m + s >= lim || n + s >= lim) continue;
    c.count_case();
    auto score = [&](int32_t pm, int32_t pn) {
      Problem q = base, k = base;
      for (size_t i = 0; i < k.x.size(); ++i) k.x[i] = base.x[(i * 7 + 3) % base.x.size()];
      q.positions = {pm};
      k.positions = {pn};
      r.apply(q);
      r.apply(k);
      return dot(q.x.data(), k.x.data(), q.dim);
    };
    const double a = score(m, n), b = score(m + s, n + s);
    c.expect(std::fabs(a - b) <= 1e-4 * (1 + std::fabs(a)),
             "q.k at positions (" + std::to_string(m) + "," + std::to_string(n) + ") is " +
                 std::to_string(a) + " but at (" + std::to_string(m + s) + "," +
                 std::to_string(n + s) + ") " + std::to_string(b) +
                 " (must depend on the difference only)");
  }
}

}  // namespace

void positional_suite(Report& report, const host::LoadedPlugin& plugin, const Options& o) {
  // A deterministic synthetic table for plugins reading weights (e.g. positional-learned).
  std::vector<float> table(static_cast<size_t>(o.table_rows) * o.table_dim);
  std::mt19937_64 trng(o.seed ^ 0x5eed);
  std::normal_distribution<float> tv(0.0f, 0.1f);
  for (auto& v : table) v = tv(trng);
  host::TensorLookup lookup = [&](std::string_view) -> std::optional<qkv_tensor_view> {
    qkv_tensor_view v{};
    v.struct_size = sizeof v;
    v.ndim = 2;
    v.shape[0] = o.table_rows;
    v.shape[1] = o.table_dim;
    v.data = table.data();
    return v;
  };
  std::optional<PositionalSubject> subject;
  if (!report.run("create", "create an instance with the given config", [&](Checker& c) {
        c.count_case();
        subject.emplace(
            host::create_instance(plugin, o.config, o.config_dir, o.config_file, lookup), o.seed,
            o.table_dim);
        const auto& info = subject->handle().info();
        c.expect(info.mode == QKV_POSITIONAL_ADDITIVE || info.mode == QKV_POSITIONAL_ROTARY,
                 "info().mode is " + std::to_string(info.mode) + ", neither additive nor rotary");
        c.expect(info.max_positions >= 0, "info().max_positions is negative");
      }))
    return;
  auto& r = *subject;
  report.run("determinism", "the same call twice gives the same bytes", [&](Checker& c) {
    for (size_t n : {1, 7, 64}) {
      c.count_case();
      auto a = r.problem(n);
      auto b = a;
      r.apply(a);
      r.apply(b);
      c.expect(a.x == b.x, "two identical calls of " + std::to_string(n) + " tokens differ");
    }
  });
  report.run("bounds", "positions outside [0, max_positions) are QKV_ERR_OUT_OF_RANGE",
             [&](Checker& c) { check_bounds(c, r); });
  if (r.rotary())
    report.run("rotary-contract", "rotation keeps norms; q.k depends on relative position",
               [&](Checker& c) { check_rotary(c, r); });
  else
    report.run("additive-contract", "x + PE(position), PE independent of x",
               [&](Checker& c) { check_additive(c, r); });
  report.run("strides", "row_stride wider than the row; the gap is untouched", [&](Checker& c) {
    c.count_case();
    auto packed = r.problem(9);
    Problem wide = packed;
    const size_t row = packed.stride, pad = 3;
    wide.stride = row + pad;
    wide.x.assign(wide.positions.size() * wide.stride, -7.25f);
    for (size_t t = 0; t < packed.positions.size(); ++t)
      std::copy_n(packed.x.begin() + t * row, row, wide.x.begin() + t * wide.stride);
    r.apply(packed);
    r.apply(wide);
    for (size_t t = 0; t < packed.positions.size(); ++t) {
      c.expect(std::equal(packed.x.begin() + t * row, packed.x.begin() + (t + 1) * row,
                          wide.x.begin() + t * wide.stride),
               "token " + std::to_string(t) + ": strided result differs from the packed one");
      for (size_t g = 0; g < pad; ++g)
        c.expect(wide.x[t * wide.stride + row + g] == -7.25f,
                 "token " + std::to_string(t) + ": the gap past the row was written");
    }
  });
  std::ostringstream what;
  what << o.threads << " threads calling one instance; same bytes as one thread";
  report.run("concurrency", what.str(), [&](Checker& c) {
    std::vector<Problem> inputs, expected;
    for (int i = 0; i < 16; ++i) {
      inputs.push_back(r.problem(static_cast<size_t>(1 + i * 5)));
      expected.push_back(inputs.back());
      r.apply(expected.back());
    }
    std::vector<std::string> errors(o.threads);
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < o.threads; ++t)
      pool.emplace_back([&, t] {
        try {
          for (int round = 0; round < 8; ++round)
            for (size_t i = 0; i < inputs.size(); ++i) {
              const size_t k = (i + t * 3 + round) % inputs.size();
              Problem p = inputs[k];
              r.apply(p);
              if (p.x != expected[k].x) {
                errors[t] = "thread " + std::to_string(t) + ": problem " + std::to_string(k) +
                            " gave other bytes than on one thread";
                return;
              }
            }
        } catch (const std::exception& e) {
          errors[t] = "thread " + std::to_string(t) + ": " + e.what();
        }
      });
    for (auto& th : pool) th.join();
    c.count_case();
    for (auto& e : errors)
      if (!e.empty()) c.fail(e);
  });
}

}  // namespace qkv::conformance
