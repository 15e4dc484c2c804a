// The Highway GEMM kernels, compiled once per SIMD target and dispatched at run time.
// B is packed once per call (PackColumnB, one column tile at a time) into panels kVecs vectors
// wide, kGemmBlockK rows deep; a tile of C is then computed by a kMR x kVecs register tile
// broadcasting rows of A in place against the packed panels. The register tile follows the
// target's register file: AVX-512 has 32 registers of 16 floats (12 x 2 = 24 accumulators,
// BLIS' 32x12 shape), AVX2/SSE4 have 16 (6 x 2 = 12).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "model/gemm_hwy.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>

#include "model/gemm.hpp"

HWY_BEFORE_NAMESPACE();
namespace qkv::model::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
constexpr size_t kMR = 12;
#else
constexpr size_t kMR = 6;
#endif
constexpr size_t kVecs = 2;
constexpr size_t kKC = kGemmBlockK;  // a packed panel (256 x 32 floats on AVX-512: 32 KiB) in L1
static_assert(kGemmTileM % kMR == 0, "a GEMM tile is whole register tiles high");

// C[mr rows][nc cols] (+)= A[mr rows][kc] x panel(bp); rows of A read in place (packing them
// cost more than it saved: a strided scalar copy per tile and K block).
template <class D>
HWY_INLINE void Micro(D d, size_t mr, size_t kc, const float* HWY_RESTRICT a, size_t lda,
                      const float* HWY_RESTRICT bp, float* HWY_RESTRICT c, size_t ldc, size_t nc,
                      bool add) {
  using V = hn::Vec<D>;
  const size_t L = hn::Lanes(d);
  const float* rows[kMR];  // rows past mr repeat the last one; their sums are not stored
  for (size_t r = 0; r < kMR; ++r) rows[r] = a + std::min(r, mr - 1) * lda;
  V acc[kMR][kVecs];
  for (size_t r = 0; r < kMR; ++r)
    for (size_t v = 0; v < kVecs; ++v) acc[r][v] = hn::Zero(d);
  for (size_t k = 0; k < kc; ++k, bp += kVecs * L) {
    V b[kVecs];
    for (size_t v = 0; v < kVecs; ++v) b[v] = hn::Load(d, bp + v * L);
    for (size_t r = 0; r < kMR; ++r) {
      const V ar = hn::Set(d, rows[r][k]);
      for (size_t v = 0; v < kVecs; ++v) acc[r][v] = hn::MulAdd(ar, b[v], acc[r][v]);
    }
  }
  if (nc == kVecs * L) {
    for (size_t r = 0; r < mr; ++r) {
      float* out = c + r * ldc;
      for (size_t v = 0; v < kVecs; ++v) {
        const V sum = add ? hn::Add(acc[r][v], hn::LoadU(d, out + v * L)) : acc[r][v];
        hn::StoreU(sum, d, out + v * L);
      }
    }
    return;
  }
  HWY_ALIGN float tmp[kVecs * hn::MaxLanes(d)];
  for (size_t r = 0; r < mr; ++r) {
    for (size_t v = 0; v < kVecs; ++v) hn::Store(acc[r][v], d, tmp + v * L);
    float* out = c + r * ldc;
    for (size_t j = 0; j < nc; ++j) out[j] = add ? out[j] + tmp[j] : tmp[j];
  }
}

// Columns [0, g.n) (<= kGemmTileN) of B, all K, into dst: per K block of kKC rows a
// kKC x kGemmTileN slab of panels, each kc rows x nr floats (zero-padded past g.n).
void PackColumnB(const GemmArgs& g, float* HWY_RESTRICT dst) {
  const hn::ScalableTag<float> d;
  const size_t L = hn::Lanes(d), nr = kVecs * L;
  for (size_t k0 = 0; k0 < g.k; k0 += kKC, dst += kKC * kGemmTileN) {
    const size_t kc = std::min(kKC, g.k - k0);
    for (size_t c0 = 0; c0 < g.n; c0 += nr) {
      const size_t nc = std::min(nr, g.n - c0);
      float* panel = dst + c0 * kKC;
      for (size_t kk = 0; kk < kc; ++kk, panel += nr) {
        const float* src = g.b + (k0 + kk) * g.ldb + c0;
        if (nc == nr) {
          for (size_t v = 0; v < kVecs; ++v) hn::Store(hn::LoadU(d, src + v * L), d, panel + v * L);
          continue;
        }
        size_t j = 0;
        for (; j < nc; ++j) panel[j] = src[j];
        for (; j < nr; ++j) panel[j] = 0.0f;
      }
    }
  }
}

// A tile of C (g.n <= kGemmTileN) from B packed by PackColumnB for the same columns.
void GemmTile(const GemmArgs& g, const float* HWY_RESTRICT packed) {
  const hn::ScalableTag<float> d;
  const size_t nr = kVecs * hn::Lanes(d);
  for (size_t k0 = 0; k0 < g.k; k0 += kKC, packed += kKC * kGemmTileN) {
    const size_t kc = std::min(kKC, g.k - k0);
    const bool add = g.accumulate || k0 > 0;
    for (size_t i0 = 0; i0 < g.m; i0 += kMR)
      for (size_t c0 = 0; c0 < g.n; c0 += nr)
        Micro(d, std::min(kMR, g.m - i0), kc, g.a + i0 * g.lda + k0, g.lda, packed + c0 * kKC,
              g.c + i0 * g.ldc + c0, g.ldc, std::min(nr, g.n - c0), add);
  }
}

int64_t TargetBit() { return HWY_TARGET; }

}  // namespace qkv::model::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace qkv::model {
HWY_EXPORT(PackColumnB);
HWY_EXPORT(GemmTile);
HWY_EXPORT(TargetBit);

void gemm_pack_column_b(const GemmArgs& column, float* packed) {
  HWY_DYNAMIC_DISPATCH(PackColumnB)(column, packed);
}
void gemm_highway_tile(const GemmArgs& tile, const float* packed) {
  HWY_DYNAMIC_DISPATCH(GemmTile)(tile, packed);
}
const char* gemm_target_name() { return hwy::TargetName(HWY_DYNAMIC_DISPATCH(TargetBit)()); }
}  // namespace qkv::model
#endif
