// A Highway GEMM tile kernel: B is packed into panels of two vectors' width, 6 rows of A are
// broadcast against them, 12 accumulators stay in registers. K is blocked by 256 so a packed
// panel stays in L1/L2. Compiled once per SIMD target, dispatched at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "model/gemm_hwy.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <vector>

#include "model/gemm.hpp"

HWY_BEFORE_NAMESPACE();
namespace qkv::model::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr size_t kMR = 6;
constexpr size_t kKC = 256;

template <class D>
HWY_INLINE void Micro(D d, size_t mr, size_t kc, const float* HWY_RESTRICT a, size_t lda,
                      const float* HWY_RESTRICT bp, float* HWY_RESTRICT c, size_t ldc, size_t nc,
                      bool add) {
  using V = hn::Vec<D>;
  const size_t L = hn::Lanes(d);
  const float* rows[kMR];
  for (size_t r = 0; r < kMR; ++r) rows[r] = a + std::min(r, mr - 1) * lda;
  V c0[kMR], c1[kMR];
  for (size_t r = 0; r < kMR; ++r) c0[r] = c1[r] = hn::Zero(d);
  for (size_t k = 0; k < kc; ++k) {
    const V b0 = hn::LoadU(d, bp + k * 2 * L);
    const V b1 = hn::LoadU(d, bp + k * 2 * L + L);
    for (size_t r = 0; r < kMR; ++r) {
      const V ar = hn::Set(d, rows[r][k]);
      c0[r] = hn::MulAdd(ar, b0, c0[r]);
      c1[r] = hn::MulAdd(ar, b1, c1[r]);
    }
  }
  if (nc == 2 * L) {
    for (size_t r = 0; r < mr; ++r) {
      float* out = c + r * ldc;
      if (add) {
        c0[r] = hn::Add(c0[r], hn::LoadU(d, out));
        c1[r] = hn::Add(c1[r], hn::LoadU(d, out + L));
      }
      hn::StoreU(c0[r], d, out);
      hn::StoreU(c1[r], d, out + L);
    }
    return;
  }
  HWY_ALIGN float tmp[2 * hn::MaxLanes(d)];
  for (size_t r = 0; r < mr; ++r) {
    hn::Store(c0[r], d, tmp);
    hn::Store(c1[r], d, tmp + L);
    float* out = c + r * ldc;
    for (size_t j = 0; j < nc; ++j) out[j] = add ? out[j] + tmp[j] : tmp[j];
  }
}

void GemmTile(const GemmArgs& g) {
  const hn::ScalableTag<float> d;
  const size_t nr = 2 * hn::Lanes(d);
  const size_t panels = (g.n + nr - 1) / nr;
  thread_local std::vector<float> packed;
  packed.resize(panels * kKC * nr);
  for (size_t k0 = 0; k0 < g.k; k0 += kKC) {
    const size_t kc = std::min(kKC, g.k - k0);
    for (size_t p = 0; p < panels; ++p) {
      float* dst = packed.data() + p * kKC * nr;
      const size_t c0 = p * nr, nc = std::min(nr, g.n - c0);
      for (size_t kk = 0; kk < kc; ++kk) {
        const float* src = g.b + (k0 + kk) * g.ldb + c0;
        size_t j = 0;
        for (; j < nc; ++j) dst[kk * nr + j] = src[j];
        for (; j < nr; ++j) dst[kk * nr + j] = 0.0f;
      }
    }
    const bool add = g.accumulate || k0 > 0;
    for (size_t i0 = 0; i0 < g.m; i0 += kMR) {
      const size_t mr = std::min(kMR, g.m - i0);
      for (size_t p = 0; p < panels; ++p)
        Micro(d, mr, kc, g.a + i0 * g.lda + k0, g.lda, packed.data() + p * kKC * nr,
              g.c + i0 * g.ldc + p * nr, g.ldc, std::min(nr, g.n - p * nr), add);
    }
  }
}

}  // namespace qkv::model::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace qkv::model {
HWY_EXPORT(GemmTile);
void gemm_highway_tile(const GemmArgs& args) {
  if (args.m == 0 || args.n == 0) return;
  if (args.k == 0) {
    if (!args.accumulate)
      for (size_t i = 0; i < args.m; ++i) std::fill_n(args.c + i * args.ldc, args.n, 0.0f);
    return;
  }
  HWY_DYNAMIC_DISPATCH(GemmTile)(args);
}
}  // namespace qkv::model
#endif
