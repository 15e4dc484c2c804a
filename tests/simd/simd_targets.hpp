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
// build that silently lost AVX-512 fails: AVX3 plus VNNI, VBMI/VBMI2, VPOPCNTDQ, BITALG,
// VPCLMULQDQ and GFNI -> AVX3_DL (cmake/QkvDependencies.cmake asks Highway for it), AVX-512
// F/BW/DQ/VL -> AVX3, AVX2 + FMA -> AVX2.
inline int64_t widest_target_by_cpu_flags() {
  __builtin_cpu_init();
  const bool avx3 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  if (avx3 && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi") &&
      __builtin_cpu_supports("avx512vbmi2") && __builtin_cpu_supports("avx512vpopcntdq") &&
      __builtin_cpu_supports("avx512bitalg") && __builtin_cpu_supports("vpclmulqdq") &&
      __builtin_cpu_supports("gfni"))  // VAES ships with VPCLMULQDQ; clang 14 cannot ask for it
    return HWY_AVX3_DL;
  if (avx3) return HWY_AVX3;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return HWY_AVX2;
  if (__builtin_cpu_supports("sse4.2")) return HWY_SSE4;
  return HWY_SCALAR;
}

}  // namespace qkv::simd_test
