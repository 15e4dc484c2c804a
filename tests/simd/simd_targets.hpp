// What the SIMD-target tests share: the Highway targets compiled here and the one this CPU's
// own feature flags call for. Kernel tests force each compiled target the CPU can run through
// hwy::SetSupportedTargetsForTest and compare with a reference.
#pragma once

#include <hwy/highway.h>
#include <hwy/targets.h>

#include <cstdint>
#include <vector>

namespace qkv::simd_test {

// Every target Highway compiles in this tree (HWY_TARGETS; no target is disabled anywhere, so
// the kernels' translation units compile the same set), best first.
inline std::vector<int64_t> compiled_simd_targets() {
  std::vector<int64_t> out;
  for (int64_t t = HWY_TARGETS; t != 0; t &= t - 1) out.push_back(t & -t);
  return out;
}

inline bool target_runs_here(int64_t target) { return (hwy::SupportedTargets() & target) != 0; }

// The widest target the CPU flags allow, read with the compiler's cpuid (not Highway's), so a
// build that silently lost AVX-512 fails: AVX-512 F/BW/DQ/VL -> AVX3, AVX2 + FMA -> AVX2.
inline int64_t widest_target_by_cpu_flags() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return HWY_AVX3;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return HWY_AVX2;
  if (__builtin_cpu_supports("sse4.2")) return HWY_SSE4;
  return HWY_SCALAR;
}

}  // namespace qkv::simd_test
