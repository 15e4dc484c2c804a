// The FMA peak loop, compiled per SIMD target; the dispatcher runs the widest the CPU has.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "fma_peak.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "fma_peak.hpp"

HWY_BEFORE_NAMESPACE();
namespace qkv::bench::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// 16 chains hide the FMA latency (4 cycles x 2 pipes needs >= 8) with room to spare.
constexpr int kChains = 16;

double FmaLoop(uint64_t iters) {
  const hn::ScalableTag<float> d;
  hn::Vec<decltype(d)> acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = hn::Set(d, 1.0f + 1e-3f * static_cast<float>(i));
  const auto mul = hn::Set(d, 0.9999999f), add = hn::Set(d, 1e-7f);
  for (uint64_t n = 0; n < iters; ++n)
    for (int i = 0; i < kChains; ++i) acc[i] = hn::MulAdd(acc[i], mul, add);
  auto sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = hn::Add(sum, acc[i]);
  return hn::GetLane(hn::SumOfLanes(d, sum));
}

uint64_t FlopsPerIter() { return kChains * 2 * hn::Lanes(hn::ScalableTag<float>()); }

int64_t TargetBit() { return HWY_TARGET; }

}  // namespace qkv::bench::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <chrono>

namespace qkv::bench {
HWY_EXPORT(FmaLoop);
HWY_EXPORT(FlopsPerIter);
HWY_EXPORT(TargetBit);

double fma_loop(uint64_t iters) { return HWY_DYNAMIC_DISPATCH(FmaLoop)(iters); }
uint64_t fma_flops_per_iter() { return HWY_DYNAMIC_DISPATCH(FlopsPerIter)(); }
const char* fma_peak_target() { return hwy::TargetName(HWY_DYNAMIC_DISPATCH(TargetBit)()); }

double measure_fma_peak(int threads) {
  const uint64_t iters = 100'000;
  double best = 0, sink = 0;
  for (int rep = 0; rep < 400; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    sink += fma_loop(iters);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(iters * fma_flops_per_iter()) / s / 1e9);
  }
  if (sink == 12345.0) best += 0;  // never true; keeps the loop's result observable
  return best * threads;
}

}  // namespace qkv::bench
#endif
