#include "model/swiglu.hpp"

#include <tbb/parallel_for.h>

#include <cmath>

namespace qkv::model {

void swiglu_rows(const float* gate_up, float* out, size_t rows, size_t width) {
  tbb::parallel_for(size_t{0}, rows, [&](size_t r) {
    const float* g = gate_up + r * 2 * width;
    const float* u = g + width;
    float* o = out + r * width;
    for (size_t i = 0; i < width; ++i) o[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  });
}

}  // namespace qkv::model
