#include "model/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace qkv::model {

namespace {

uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int32_t argmax(std::span<const float> logits) {
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<int32_t>(best);
}

}  // namespace

double counter_uniform(uint64_t seed, uint64_t doc, uint64_t step) {
  const uint64_t r = mix(mix(mix(seed) ^ doc) ^ step);
  return double(r >> 11) * 0x1.0p-53;
}

void apply_repetition_penalty(std::span<float> logits, std::span<const int32_t> context,
                              double penalty) {
  if (penalty == 1.0) return;
  std::vector<int32_t> ids(context.begin(), context.end());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (int32_t id : ids) {
    if (id < 0 || size_t(id) >= logits.size()) continue;
    float& l = logits[id];
    l = l > 0 ? float(l / penalty) : float(l * penalty);
  }
}

int32_t choose_token(std::span<float> logits, std::span<const int32_t> context,
                     const SamplingParams& p, uint64_t doc, uint64_t step) {
  apply_repetition_penalty(logits, context, p.repetition_penalty);
  if (!p.sample || p.temperature == 0.0) return argmax(logits);
  // Candidates in descending logit order (ties: smaller id first), scaled by temperature.
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  auto before = [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  size_t keep = order.size();
  if (p.top_k > 0 && p.top_k < keep) {
    keep = p.top_k;
    std::partial_sort(order.begin(), order.begin() + keep, order.end(), before);
    // HF's top_k keeps every token whose logit ties the k-th.
    const float kth = logits[order[keep - 1]];
    std::sort(order.begin() + keep, order.end(), before);
    while (keep < order.size() && logits[order[keep]] == kth) ++keep;
  } else {
    std::sort(order.begin(), order.end(), before);
  }
  std::vector<double> prob(keep);
  const double mx = double(logits[order[0]]) / p.temperature;
  double sum = 0;
  for (size_t i = 0; i < keep; ++i)
    sum += prob[i] = std::exp(double(logits[order[i]]) / p.temperature - mx);
  // top_p: the smallest prefix whose probability reaches p (at least one token).
  if (p.top_p < 1.0) {
    double cum = 0;
    size_t n = 0;
    while (n < keep) {
      cum += prob[n++] / sum;
      if (cum >= p.top_p) break;
    }
    keep = n;
    sum = std::accumulate(prob.begin(), prob.begin() + keep, 0.0);
  }
  const double u = counter_uniform(p.seed, doc, step) * sum;
  double cum = 0;
  for (size_t i = 0; i < keep; ++i) {
    cum += prob[i];
    if (u < cum) return order[i];
  }
  return order[keep - 1];
}

float token_logprob(std::span<const float> logits, int32_t id) {
  double mx = -INFINITY;
  for (float l : logits) mx = std::max(mx, double(l));
  double sum = 0;
  for (float l : logits) sum += std::exp(double(l) - mx);
  return float(double(logits[id]) - mx - std::log(sum));
}

}  // namespace qkv::model
