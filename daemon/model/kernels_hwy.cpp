// Vectorized row kernels, compiled per SIMD target: LayerNorm/RMSNorm of one row (statistics
// accumulated in double lanes, so no cancellation and a fixed order per target) and the
// activations. GELU(erf) uses erf(z) = 1 - poly(t) * exp(-z^2), t = 1/(1 + p|z|)
// (Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7); GELU(tanh) uses Highway's Tanh.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "model/kernels_hwy.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

#include <cmath>

#include "model/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace qkv::model::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class D, class V>
HWY_INLINE V GeluErf(D d, V x) {
  const V z = hn::Abs(hn::Mul(x, hn::Set(d, 0.70710678118654752f)));
  const V t = hn::Div(hn::Set(d, 1.0f), hn::MulAdd(hn::Set(d, 0.3275911f), z, hn::Set(d, 1.0f)));
  V p = hn::Set(d, 1.061405429f);
  p = hn::MulAdd(p, t, hn::Set(d, -1.453152027f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.421413741f));
  p = hn::MulAdd(p, t, hn::Set(d, -0.284496736f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.254829592f));
  p = hn::Mul(p, t);
  const V e = hn::Exp(d, hn::Neg(hn::Mul(z, z)));
  const V erf_abs = hn::NegMulAdd(p, e, hn::Set(d, 1.0f));  // erf(|x|/sqrt2)
  const V erf = hn::CopySign(erf_abs, x);
  return hn::Mul(hn::Mul(hn::Set(d, 0.5f), x), hn::Add(hn::Set(d, 1.0f), erf));
}

template <class D, class V>
HWY_INLINE V GeluTanh(D d, V x) {
  const V x3 = hn::Mul(hn::Mul(x, x), x);
  const V inner =
      hn::Mul(hn::Set(d, 0.7978845608028654f), hn::MulAdd(hn::Set(d, 0.044715f), x3, x));
  return hn::Mul(hn::Mul(hn::Set(d, 0.5f), x), hn::Add(hn::Set(d, 1.0f), hn::Tanh(d, inner)));
}

template <class D, class V>
HWY_INLINE V Apply(D d, Activation act, V v) {
  switch (act) {
    case Activation::Relu:
      return hn::Max(v, hn::Zero(d));
    case Activation::GeluErf:
      return GeluErf(d, v);
    case Activation::GeluTanh:
      return GeluTanh(d, v);
    case Activation::Silu:
      return hn::Div(v, hn::Add(hn::Set(d, 1.0f), hn::Exp(d, hn::Neg(v))));
  }
  return v;
}

void Activate(Activation act, float* HWY_RESTRICT x, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t L = hn::Lanes(d);
  size_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(Apply(d, act, hn::LoadU(d, x + i)), d, x + i);
  if (i < n) {  // the tail goes through the same vector code, so every element gets one formula
    HWY_ALIGN float tmp[hn::MaxLanes(d)] = {};
    for (size_t j = i; j < n; ++j) tmp[j - i] = x[j];
    hn::Store(Apply(d, act, hn::Load(d, tmp)), d, tmp);
    for (size_t j = i; j < n; ++j) x[j] = tmp[j - i];
  }
}

// sum of x[i] (LayerNorm: sum of (x[i] - mean)^2 with center) over n floats, in double lanes.
template <bool kSquares>
HWY_INLINE double SumRow(const float* HWY_RESTRICT x, size_t n, double center) {
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;  // half a float vector, promoted to doubles
  const size_t L = hn::Lanes(dd);
  const auto c = hn::Set(dd, center);
  auto acc = hn::Zero(dd);
  size_t i = 0;
  for (; i + L <= n; i += L) {
    const auto v = hn::Sub(hn::PromoteTo(dd, hn::LoadU(df, x + i)), c);
    acc = kSquares ? hn::MulAdd(v, v, acc) : hn::Add(acc, v);
  }
  double sum = hn::GetLane(hn::SumOfLanes(dd, acc));
  for (; i < n; ++i) {
    const double v = double(x[i]) - center;
    sum += kSquares ? v * v : v;
  }
  return sum;
}

void NormRow(NormKind kind, const float* x, float* y, size_t dim, const float* HWY_RESTRICT gamma,
             const float* HWY_RESTRICT beta, float eps) {
  const double mean =
      kind == NormKind::LayerNorm ? SumRow<false>(x, dim, 0.0) / static_cast<double>(dim) : 0.0;
  const double var = SumRow<true>(x, dim, mean) / static_cast<double>(dim);
  const hn::ScalableTag<float> d;
  const size_t L = hn::Lanes(d);
  const auto inv = hn::Set(d, static_cast<float>(1.0 / std::sqrt(var + eps)));
  const auto m = hn::Set(d, static_cast<float>(mean));
  // x and y may alias: each vector is read before it is written.
  auto norm = [&](auto v, const float* g, const float* b) {
    const auto out = hn::Mul(hn::Mul(hn::Sub(v, m), inv), hn::LoadU(d, g));
    return b ? hn::Add(out, hn::LoadU(d, b)) : out;
  };
  size_t i = 0;
  for (; i + L <= dim; i += L)
    hn::StoreU(norm(hn::LoadU(d, x + i), gamma + i, beta ? beta + i : nullptr), d, y + i);
  if (i < dim) {  // the tail goes through the same vector code (one formula per element)
    HWY_ALIGN float tx[hn::MaxLanes(d)] = {}, tg[hn::MaxLanes(d)] = {}, tb[hn::MaxLanes(d)] = {};
    for (size_t j = i; j < dim; ++j) {
      tx[j - i] = x[j];
      tg[j - i] = gamma[j];
      tb[j - i] = beta ? beta[j] : 0.0f;
    }
    hn::Store(norm(hn::Load(d, tx), tg, beta ? tb : nullptr), d, tx);
    for (size_t j = i; j < dim; ++j) y[j] = tx[j - i];
  }
}

}  // namespace qkv::model::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace qkv::model {
HWY_EXPORT(Activate);
HWY_EXPORT(NormRow);
void activate_highway(Activation act, float* x, size_t n) {
  HWY_DYNAMIC_DISPATCH(Activate)(act, x, n);
}
void norm_row_highway(NormKind kind, const float* x, float* y, size_t dim, const float* gamma,
                      const float* beta, float eps) {
  HWY_DYNAMIC_DISPATCH(NormRow)(kind, x, y, dim, gamma, beta, eps);
}
}  // namespace qkv::model
#endif
