// Vectorized activations. GELU(erf) uses erf(z) = 1 - poly(t) * exp(-z^2), t = 1/(1 + p|z|)
// (Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7); GELU(tanh) uses Highway's Tanh.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "model/kernels_hwy.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

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

}  // namespace qkv::model::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace qkv::model {
HWY_EXPORT(Activate);
void activate_highway(Activation act, float* x, size_t n) {
  HWY_DYNAMIC_DISPATCH(Activate)(act, x, n);
}
}  // namespace qkv::model
#endif
