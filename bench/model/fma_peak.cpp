#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "fma_peak.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "fma_peak.hpp"

HWY_BEFORE_NAMESPACE();
namespace qkv::bench::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Runs `iters` x 16 chains of FMAs; returns flops done (the sum keeps the loop alive).
double FmaLoop(size_t iters, float* sink) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const V b = hn::Set(d, 0.9999999f), c = hn::Set(d, 1e-7f);
  V a[16];
  for (int i = 0; i < 16; ++i) a[i] = hn::Set(d, 1.0f + 1e-3f * static_cast<float>(i));
  for (size_t it = 0; it < iters; ++it)
    for (int i = 0; i < 16; ++i) a[i] = hn::MulAdd(a[i], b, c);
  V s = a[0];
  for (int i = 1; i < 16; ++i) s = hn::Add(s, a[i]);
  *sink = hn::GetLane(s);
  return 2.0 * 16 * static_cast<double>(iters) * static_cast<double>(hn::Lanes(d));
}

}  // namespace qkv::bench::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <chrono>

namespace qkv::bench {
HWY_EXPORT(FmaLoop);

double measure_fma_peak(int threads) {
  // Short bursts (~0.5 ms) on one thread, best of many: on a shared machine a burst that ran
  // undisturbed shows the core's rate. The peak of T threads is T times that (identical cores):
  // timing T threads together would measure the other tenants, not the hardware.
  const size_t iters = 100'000;
  double best = 0;
  float sink[16];
  for (int rep = 0; rep < 400; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    const double f = HWY_DYNAMIC_DISPATCH(FmaLoop)(iters, sink);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, f / s / 1e9);
  }
  return best * threads;
}

}  // namespace qkv::bench
#endif
