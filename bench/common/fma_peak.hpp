// The machine's single-precision FMA peak, measured (not looked up): 16 independent
// register-resident FMA chains in the widest SIMD target Highway dispatches to. Every "% of
// peak" in bench/ is against this one loop.
#pragma once

#include <cstdint>

namespace qkv::bench {

// Runs the loop `iters` times; returns a value that depends on every FMA (keep it alive).
double fma_loop(uint64_t iters);
// Floating-point operations of one loop iteration (2 per FMA lane).
uint64_t fma_flops_per_iter();
// The Highway target the loop runs (the widest of this CPU, e.g. "AVX3" with AVX-512).
const char* fma_peak_target();
// GFLOP/s of `threads` cores: threads x the best undisturbed ~0.5 ms one-core burst. On a
// shared machine, timing T threads together would measure the other tenants, not the hardware.
double measure_fma_peak(int threads);

}  // namespace qkv::bench
