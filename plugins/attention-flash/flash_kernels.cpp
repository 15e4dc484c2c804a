// Per-target SIMD code of the flash kernel: one query block against all its visible key blocks.
// Compiled once per Highway target (foreach_target) and picked at run time.
//
// Per key block: S = Q K^T with a 6-row x 2-vector register tile (K^T is packed, so a key
// vector is one aligned load and a query element one broadcast), an online-softmax update of
// the row max / row sum in base 2 (Q is pre-scaled by scale*log2 e), then O = alpha*O + P V
// with the same register tile shape over V's packed rows.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "flash_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <hwy/aligned_allocator.h>

#include "flash_block.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

HWY_BEFORE_NAMESPACE();
namespace qkv::attention::flash {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
constexpr int kTileRows = 6;  // 6 rows x 2 vectors = 12 accumulators: fits 16 AVX2 registers
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// 2^x for x <= 0: split x = n + f with |f| <= 1/2, 2^f by its degree-6 Taylor polynomial
// (relative error < 1.2e-7), 2^n built in the exponent bits. Below -126 (including -inf
// from masked scores) the result is exactly 0.
HWY_INLINE VF Exp2(DF d, VF x) {
  const hn::RebindToSigned<DF> di;
  const VF xc = hn::Max(x, hn::Set(d, -127.0f));
  const VF n = hn::Round(xc);
  const VF f = hn::Sub(xc, n);
  VF p = hn::Set(d, 1.5403530e-4f);
  p = hn::MulAdd(p, f, hn::Set(d, 1.3333558e-3f));
  p = hn::MulAdd(p, f, hn::Set(d, 9.6181291e-3f));
  p = hn::MulAdd(p, f, hn::Set(d, 5.5504109e-2f));
  p = hn::MulAdd(p, f, hn::Set(d, 2.4022651e-1f));
  p = hn::MulAdd(p, f, hn::Set(d, 6.9314718e-1f));
  p = hn::MulAdd(p, f, hn::Set(d, 1.0f));
  const auto bits = hn::ShiftLeft<23>(hn::Add(hn::ConvertTo(di, n), hn::Set(di, 127)));
  const VF r = hn::Mul(p, hn::BitCast(d, bits));
  return hn::IfThenZeroElse(x < hn::Set(d, -126.0f), r);
}

// s[r][kk .. kk+2N) = sum_d q[r][d] * kt[d][kk .. kk+2N) for R rows.
template <int R>
HWY_INLINE void ScoreTile(const float* HWY_RESTRICT q, int dim, const float* HWY_RESTRICT kt,
                          int kk, float* HWY_RESTRICT s) {
  const DF d;
  const size_t N = hn::Lanes(d);
  VF acc0[R], acc1[R];
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = hn::Zero(d);
  const float* k = kt + kk;
  for (int c = 0; c < dim; ++c, k += kBlockK) {
    const VF k0 = hn::Load(d, k), k1 = hn::Load(d, k + N);
    for (int r = 0; r < R; ++r) {
      const VF qb = hn::Set(d, q[r * dim + c]);
      acc0[r] = hn::MulAdd(qb, k0, acc0[r]);
      acc1[r] = hn::MulAdd(qb, k1, acc1[r]);
    }
  }
  for (int r = 0; r < R; ++r) {
    hn::Store(acc0[r], d, s + r * kBlockK + kk);
    hn::Store(acc1[r], d, s + r * kBlockK + kk + N);
  }
}

// o[r][c .. c+2N) = alpha[r] * o[r][c ..] + sum_{j < nk} p[r][j] * v[j][c ..] for R rows.
template <int R>
HWY_INLINE void AccumTile(const float* HWY_RESTRICT p, int nk, const float* HWY_RESTRICT v,
                          int pdim, int c, const float* HWY_RESTRICT alpha, float* HWY_RESTRICT o) {
  const DF d;
  const size_t N = hn::Lanes(d);
  VF acc0[R], acc1[R];
  for (int r = 0; r < R; ++r) {
    const VF a = hn::Set(d, alpha[r]);
    acc0[r] = hn::Mul(a, hn::Load(d, o + r * pdim + c));
    acc1[r] = hn::Mul(a, hn::Load(d, o + r * pdim + c + N));
  }
  const float* vr = v + c;
  for (int j = 0; j < nk; ++j, vr += pdim) {
    const VF v0 = hn::Load(d, vr), v1 = hn::Load(d, vr + N);
    for (int r = 0; r < R; ++r) {
      const VF pb = hn::Set(d, p[r * kBlockK + j]);
      acc0[r] = hn::MulAdd(pb, v0, acc0[r]);
      acc1[r] = hn::MulAdd(pb, v1, acc1[r]);
    }
  }
  for (int r = 0; r < R; ++r) {
    hn::Store(acc0[r], d, o + r * pdim + c);
    hn::Store(acc1[r], d, o + r * pdim + c + N);
  }
}

// Calls f.template operator()<R>(r0) over row tiles of kTileRows, the remainder last.
template <class F>
HWY_INLINE void ForRowTiles(int rows, F&& f) {
  int r0 = 0;
  for (; r0 + kTileRows <= rows; r0 += kTileRows) f.template operator()<kTileRows>(r0);
  switch (rows - r0) {
    case 5: f.template operator()<5>(r0); break;
    case 4: f.template operator()<4>(r0); break;
    case 3: f.template operator()<3>(r0); break;
    case 2: f.template operator()<2>(r0); break;
    case 1: f.template operator()<1>(r0); break;
    default: break;
  }
}

// S tile of one key block (all kBlockK columns), then masked entries set to -inf.
void BlockScores(const BlockTask& t, const float* qs, int kb, float* s) {
  const DF d;
  const int step = static_cast<int>(2 * hn::Lanes(d));
  const float* kt = t.kv.kt + kb * t.kv.kt_block;
  ForRowTiles(t.rows, [&]<int R>(int r0) {
    for (int kk = 0; kk < kBlockK; kk += step)
      ScoreTile<R>(qs + r0 * t.head_dim, t.head_dim, kt, kk, s + r0 * kBlockK);
  });
  const int64_t j0 = int64_t{kb} * kBlockK;
  // Some row sees fewer than all kBlockK keys: the Lk tail, or the causal diagonal (the
  // block's first row sees the fewest keys).
  const bool partial = j0 + kBlockK > t.lk || (t.causal && j0 + kBlockK > t.row0 + t.lk - t.lq + 1);
  if (!partial) return;
  for (int r = 0; r < t.rows; ++r) {
    const int64_t visible = t.causal ? std::min(t.row0 + r + t.lk - t.lq + 1, t.lk) : t.lk;
    const int64_t end = std::clamp<int64_t>(visible - j0, 0, kBlockK);
    std::fill(s + r * kBlockK + end, s + (r + 1) * kBlockK, kNegInf);
  }
}

void AttendBlock(const BlockTask& t) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const int dim = t.head_dim, pdim = t.padded_dim, rows = t.rows;
  // Scratch: scaled Q rows, one score tile, the output accumulator, per-row state.
  const size_t qs_n = hwy::RoundUpTo(size_t(rows) * dim, 64);
  const size_t s_n = size_t(kBlockQ) * kBlockK, o_n = size_t(kBlockQ) * pdim;
  auto scratch = hwy::AllocateAligned<float>(qs_n + s_n + o_n + 3 * kBlockQ);
  float* qs = scratch.get();
  float* s = qs + qs_n;
  float* o = s + s_n;
  float* m = o + o_n;
  float* l = m + kBlockQ;
  float* alpha = l + kBlockQ;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < dim; ++c) qs[r * dim + c] = t.q[r * t.q_stride + c] * t.qscale;
  std::fill(o, o + o_n, 0.0f);
  std::fill(m, m + kBlockQ, kNegInf);
  std::fill(l, l + kBlockQ, 0.0f);

  // Keys past the last row's visible end are never touched: causal tiles above the diagonal
  // are skipped, not masked.
  const int64_t kend = t.causal ? std::clamp<int64_t>(t.row0 + rows + t.lk - t.lq, 0, t.lk) : t.lk;
  const int nkb = static_cast<int>((kend + kBlockK - 1) / kBlockK);
  for (int kb = 0; kb < nkb; ++kb) {
    BlockScores(t, qs, kb, s);
    for (int r = 0; r < rows; ++r) {
      float* sr = s + r * kBlockK;
      VF mx = hn::Load(d, sr);
      for (size_t j = N; j < size_t(kBlockK); j += N) mx = hn::Max(mx, hn::Load(d, sr + j));
      const float mnew = std::max(m[r], hn::GetLane(hn::MaxOfLanes(d, mx)));
      if (mnew == kNegInf) {  // nothing visible yet in this row
        alpha[r] = 1.0f;
        std::fill(sr, sr + kBlockK, 0.0f);
        continue;
      }
      alpha[r] = std::exp2(m[r] - mnew);
      const VF vm = hn::Set(d, mnew);
      VF sum = hn::Zero(d);
      for (size_t j = 0; j < size_t(kBlockK); j += N) {
        const VF p = Exp2(d, hn::Sub(hn::Load(d, sr + j), vm));
        hn::Store(p, d, sr + j);
        sum = hn::Add(sum, p);
      }
      l[r] = l[r] * alpha[r] + hn::GetLane(hn::SumOfLanes(d, sum));
      m[r] = mnew;
    }
    const int nk = static_cast<int>(std::min<int64_t>(kBlockK, kend - int64_t{kb} * kBlockK));
    const float* vb = t.kv.v + kb * t.kv.v_block;
    ForRowTiles(rows, [&]<int R>(int r0) {
      for (int c = 0; c < pdim; c += static_cast<int>(2 * N))
        AccumTile<R>(s + r0 * kBlockK, nk, vb, pdim, c, alpha + r0, o + r0 * pdim);
    });
  }

  for (int r = 0; r < rows; ++r) {
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;  // no visible key: zeros, not NaN
    float* out = t.out + r * t.out_stride;
    for (int c = 0; c < dim; ++c) out[c] = o[r * pdim + c] * inv;
  }
  if (!t.probs) return;

  // Probabilities were asked for: recompute each score tile with the final row max and sum.
  const int all_kb = static_cast<int>((t.lk + kBlockK - 1) / kBlockK);
  for (int kb = 0; kb < all_kb; ++kb) {
    const int64_t j0 = int64_t{kb} * kBlockK;
    const int64_t width = std::min<int64_t>(kBlockK, t.lk - j0);
    if (kb < nkb) BlockScores(t, qs, kb, s);
    for (int r = 0; r < rows; ++r) {
      float* dst = t.probs + r * t.lk + j0;
      if (kb >= nkb || l[r] == 0.0f) {
        std::fill(dst, dst + width, 0.0f);
        continue;
      }
      float* sr = s + r * kBlockK;
      const VF vm = hn::Set(d, m[r]), vinv = hn::Set(d, 1.0f / l[r]);
      for (size_t j = 0; j < size_t(kBlockK); j += N)
        hn::Store(hn::Mul(Exp2(d, hn::Sub(hn::Load(d, sr + j), vm)), vinv), d, sr + j);
      std::memcpy(dst, sr, sizeof(float) * width);
    }
  }
}

int64_t TargetBit() { return HWY_TARGET; }

}  // namespace HWY_NAMESPACE
}  // namespace qkv::attention::flash
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace qkv::attention::flash {
HWY_EXPORT(AttendBlock);
HWY_EXPORT(TargetBit);

void attend_block(const BlockTask& t) { HWY_DYNAMIC_DISPATCH(AttendBlock)(t); }
const char* target_name() { return hwy::TargetName(HWY_DYNAMIC_DISPATCH(TargetBit)()); }
}  // namespace qkv::attention::flash
#endif
