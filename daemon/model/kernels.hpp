// Row-wise kernels around the GEMMs: norms, activations, residuals. Each row is computed by one
// thread in a fixed order, so results do not depend on the thread count.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qkv::model {

enum class Activation { Relu, GeluErf, GeluTanh, Silu };  // Silu: x * sigmoid(x) (Marian swish)
enum class NormKind { LayerNorm, RmsNorm };

// y[r] = norm(x[r]) * gamma (+ beta) for r < rows; x and y may alias. beta may be null.
void norm_rows(NormKind kind, const float* x, float* y, size_t rows, size_t dim, size_t x_stride,
               size_t y_stride, const float* gamma, const float* beta, float eps);

// In place over n contiguous floats (vectorized with Highway).
void activate(Activation act, float* x, size_t n);

// y[i] += x[i].
void add_into(float* y, const float* x, size_t n);

}  // namespace qkv::model
