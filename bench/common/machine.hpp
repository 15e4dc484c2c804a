// What every benchmark prints first: the CPU model, its SIMD feature flags and the Highway
// target of the FMA peak loop, so a figure always says which machine and ISA it came from.
#pragma once

#include <string>

namespace qkv::bench {

// "model name" of /proc/cpuinfo ("unknown CPU" where there is none).
std::string cpu_model();
// The SIMD flags of /proc/cpuinfo that decide Highway's targets (sse4_2, avx2, fma, avx512*,
// and vaes/vpclmulqdq/gfni for AVX3_DL).
std::string simd_flags();
// Three lines on stdout: CPU, ISA flags, the target the FMA peak loop runs (the widest).
void print_machine();

}  // namespace qkv::bench
