#include "model/kernels.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cmath>

namespace qkv::model {

void activate_highway(Activation act, float* x, size_t n);  // kernels_hwy.cpp

void norm_rows(NormKind kind, const float* x, float* y, size_t rows, size_t dim, size_t x_stride,
               size_t y_stride, const float* gamma, const float* beta, float eps) {
  tbb::parallel_for(tbb::blocked_range<size_t>(0, rows, 16),
                    [&](const tbb::blocked_range<size_t>& r) {
                      for (size_t row = r.begin(); row < r.end(); ++row) {
                        const float* in = x + row * x_stride;
                        float* out = y + row * y_stride;
                        // Accumulate in double: a fixed, thread-independent order and no
                        // cancellation issues.
                        double mean = 0.0;
                        if (kind == NormKind::LayerNorm) {
                          for (size_t i = 0; i < dim; ++i) mean += in[i];
                          mean /= static_cast<double>(dim);
                        }
                        double var = 0.0;
                        for (size_t i = 0; i < dim; ++i) {
                          const double c = in[i] - mean;
                          var += c * c;
                        }
                        var /= static_cast<double>(dim);
                        const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
                        const float m = static_cast<float>(mean);
                        for (size_t i = 0; i < dim; ++i) {
                          const float v = (in[i] - m) * inv * gamma[i];
                          out[i] = beta ? v + beta[i] : v;
                        }
                      }
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
