// The Highway small-M kernel of gemv.hpp, compiled once per SIMD target and dispatched at run
// time like gemm_hwy.cpp. A column tile is walked in chunks of kChunkVecs vectors; for each K
// block a group of up to kGemvRowGroup rows keeps kGemvRowGroup x kChunkVecs accumulators while
// the chunk's rows of B stream through once. The FMA chain per element restarts at each K block
// and is then added to C, as gemm_hwy.cpp's Micro does, so both give the same bits.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "model/gemv_hwy.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>

#include "model/gemv.hpp"

HWY_BEFORE_NAMESPACE();
namespace qkv::model::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr size_t kChunkVecs = 4;  // 4 rows x 4 vectors = 16 accumulators + 4 loads of B
constexpr size_t kRows = kGemvRowGroup;

// C[mr rows][c0, c0 + nc) (+)= A[mr rows][k0, k0 + kc) x B[k0.., c0..] for one K block.
template <class D>
HWY_INLINE void Chunk(D d, size_t mr, size_t kc, const float* HWY_RESTRICT a, size_t lda,
                      const float* HWY_RESTRICT b, size_t ldb, float* HWY_RESTRICT c, size_t ldc,
                      size_t nc, bool add) {
  using V = hn::Vec<D>;
  const size_t L = hn::Lanes(d);
  const float* rows[kRows];  // rows past mr repeat the last one; their sums are not stored
  for (size_t r = 0; r < kRows; ++r) rows[r] = a + std::min(r, mr - 1) * lda;
  V acc[kRows][kChunkVecs];
  for (size_t r = 0; r < kRows; ++r)
    for (size_t v = 0; v < kChunkVecs; ++v) acc[r][v] = hn::Zero(d);
  const bool full = nc == kChunkVecs * L;
  HWY_ALIGN float pad[kChunkVecs * hn::MaxLanes(d)];
  for (size_t k = 0; k < kc; ++k) {
    const float* src = b + k * ldb;
    if (!full) {  // a ragged last chunk: zero-padded, as gemm's packed panels are
      std::fill(pad, pad + kChunkVecs * L, 0.0f);
      std::copy_n(src, nc, pad);
      src = pad;
    }
    V w[kChunkVecs];
    for (size_t v = 0; v < kChunkVecs; ++v) w[v] = hn::LoadU(d, src + v * L);
    for (size_t r = 0; r < kRows; ++r) {
      const V ar = hn::Set(d, rows[r][k]);
      for (size_t v = 0; v < kChunkVecs; ++v) acc[r][v] = hn::MulAdd(ar, w[v], acc[r][v]);
    }
  }
  HWY_ALIGN float tmp[kChunkVecs * hn::MaxLanes(d)];
  for (size_t r = 0; r < mr; ++r) {
    float* out = c + r * ldc;
    if (full) {
      for (size_t v = 0; v < kChunkVecs; ++v) {
        const V sum = add ? hn::Add(acc[r][v], hn::LoadU(d, out + v * L)) : acc[r][v];
        hn::StoreU(sum, d, out + v * L);
      }
      continue;
    }
    for (size_t v = 0; v < kChunkVecs; ++v) hn::Store(acc[r][v], d, tmp + v * L);
    for (size_t j = 0; j < nc; ++j) out[j] = add ? out[j] + tmp[j] : tmp[j];
  }
}

void GemvTile(const GemmArgs& g) {
  const hn::ScalableTag<float> d;
  const size_t cw = kChunkVecs * hn::Lanes(d);
  for (size_t k0 = 0; k0 < g.k; k0 += kGemmBlockK) {
    const size_t kc = std::min(kGemmBlockK, g.k - k0);
    const bool add = g.accumulate || k0 > 0;
    for (size_t c0 = 0; c0 < g.n; c0 += cw)
      for (size_t i0 = 0; i0 < g.m; i0 += kRows)
        Chunk(d, std::min(kRows, g.m - i0), kc, g.a + i0 * g.lda + k0, g.lda, g.b + k0 * g.ldb + c0,
              g.ldb, g.c + i0 * g.ldc + c0, g.ldc, std::min(cw, g.n - c0), add);
  }
}

}  // namespace qkv::model::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace qkv::model {
HWY_EXPORT(GemvTile);

void gemv_highway_tile(const GemmArgs& tile) { HWY_DYNAMIC_DISPATCH(GemvTile)(tile); }
}  // namespace qkv::model
#endif
