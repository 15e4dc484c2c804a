// Row-wise kernels on oneTBB: rows (norms) and chunks (activations) split over threads; each
// row or chunk is one Highway kernel call (kernels_hwy.cpp).
#include "model/kernels.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>

namespace qkv::model {

// kernels_hwy.cpp
void activate_highway(Activation act, float* x, size_t n);
void norm_row_highway(NormKind kind, const float* x, float* y, size_t dim, const float* gamma,
                      const float* beta, float eps);

void norm_rows(NormKind kind, const float* x, float* y, size_t rows, size_t dim, size_t x_stride,
               size_t y_stride, const float* gamma, const float* beta, float eps) {
  tbb::parallel_for(
      tbb::blocked_range<size_t>(0, rows, 16), [&](const tbb::blocked_range<size_t>& r) {
        for (size_t row = r.begin(); row < r.end(); ++row)
          norm_row_highway(kind, x + row * x_stride, y + row * y_stride, dim, gamma, beta, eps);
      });
}

void activate(Activation act, float* x, size_t n) {
  constexpr size_t kChunk = 1 << 14;
  tbb::parallel_for(tbb::blocked_range<size_t>(0, (n + kChunk - 1) / kChunk, 1),
                    [&](const tbb::blocked_range<size_t>& r) {
                      for (size_t c = r.begin(); c < r.end(); ++c) {
                        const size_t b = c * kChunk;
                        activate_highway(act, x + b, std::min(kChunk, n - b));
                      }
                    });
}

void add_into(float* y, const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += x[i];
}

}  // namespace qkv::model
