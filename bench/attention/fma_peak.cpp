// The machine's FMA peak: a loop of independent register-resident fused multiply-adds,
// compiled per Highway target and dispatched like the attention kernels, so "% of peak"
// compares like with like.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "fma_peak.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "fma_peak.hpp"

HWY_BEFORE_NAMESPACE();
namespace qkv::bench {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// 12 independent accumulator chains hide the FMA latency (4 cycles x 2 pipes needs >= 8).
double FmaLoop(uint64_t iters) {
  const hn::ScalableTag<float> d;
  constexpr int kChains = 12;
  hn::Vec<decltype(d)> acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = hn::Set(d, 1.0f + 1e-3f * i);
  const auto mul = hn::Set(d, 0.999999f), add = hn::Set(d, 1e-7f);
  for (uint64_t n = 0; n < iters; ++n) {
    for (int i = 0; i < kChains; ++i) acc[i] = hn::MulAdd(acc[i], mul, add);
  }
  auto sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = hn::Add(sum, acc[i]);
  return hn::GetLane(hn::SumOfLanes(d, sum));
}

uint64_t FlopsPerIter() { return 12 * 2 * hn::Lanes(hn::ScalableTag<float>()); }

}  // namespace HWY_NAMESPACE
}  // namespace qkv::bench
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace qkv::bench {
HWY_EXPORT(FmaLoop);
HWY_EXPORT(FlopsPerIter);
double fma_loop(uint64_t iters) { return HWY_DYNAMIC_DISPATCH(FmaLoop)(iters); }
uint64_t fma_flops_per_iter() { return HWY_DYNAMIC_DISPATCH(FlopsPerIter)(); }
}  // namespace qkv::bench
#endif
