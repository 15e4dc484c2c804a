// Register-resident FMA loop for measuring the machine's peak (see fma_peak.cpp).
#ifndef QKV_BENCH_FMA_PEAK_HPP
#define QKV_BENCH_FMA_PEAK_HPP

#include <cstdint>

namespace qkv::bench {
double fma_loop(uint64_t iters);  // returns a value that depends on every FMA
uint64_t fma_flops_per_iter();
}  // namespace qkv::bench

#endif
