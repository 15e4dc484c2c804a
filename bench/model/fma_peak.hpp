// The machine's single-precision FMA peak, measured (not looked up): 16 independent FMA chains
// in the widest SIMD target Highway dispatches to.
#pragma once

namespace qkv::bench {

// GFLOP/s of `threads` cores (2 flops per FMA lane): threads x the best one-core burst.
double measure_fma_peak(int threads);

}  // namespace qkv::bench
