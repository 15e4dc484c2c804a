// Per-target SIMD code of the flash kernel: one query block against all its visible key blocks.
// Compiled once per Highway target (foreach_target: AVX-512, AVX2, SSE4, SSSE3, scalar) and
// picked at run time.
//
// Everything runs "query-major in the lanes": the task transposes its Q block once to
// Q^T [head_dim][kBlockQ], so that
//   S^T[j][i] = sum_d K[j][d] Q^T[d][i]      (K read in place, one broadcast per element)
//   O^T[d][i] = alpha[i] O^T[d][i] + sum_j V[j][d] P^T[j][i]   (V read in place likewise)
// both with a register tile of kTile broadcast rows x kVecs vectors (per target), and the
// online softmax's row max and row sum become plain vertical vector ops over j: no packing of
// K/V, no horizontal reductions. Scores are in base 2 (Q pre-scaled by scale * log2 e).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "flash_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <hwy/aligned_allocator.h>

#include "flash_block.hpp"

#include <algorithm>
#include <limits>

HWY_BEFORE_NAMESPACE();
namespace qkv::attention::flash {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
// Register tile: kTile broadcast rows x kVecs vectors. AVX-512 has 32 registers of 16 floats:
// 6 x 4 = 24 accumulators span a whole 64-query block (4 loads, 6 broadcasts per 24 FMAs; more
// broadcast rows would mean more strided K row pointers than general registers). AVX2/SSE4 have
// 16 registers: 6 x 2 = 12 (4 x 3 measured the same; 6 x 2 keeps kBlockQ = 64).
// Query rows per block: on AVX-512, 128 (two tiles wide) rather than 64 halves the K/V rows read
// per query and the number of tasks: +1-2 points of core peak per CPU-second on self, cross and
// L=128/512, causal unchanged (medians of 6 alternating runs, EPYC Zen 5, bench/README.md
// "Attention"); 64 x 32, 64 x 128 and 128 x 128 (rows x keys) were no better. Elsewhere 64.
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
constexpr int kTile = 6;
constexpr int kVecs = 4;
constexpr int kBlockQ = 128;
#else
constexpr int kTile = 6;
constexpr int kVecs = 2;
constexpr int kBlockQ = 64;
#endif
static_assert(kBlockQ % (kVecs * HWY_LANES(float)) == 0, "a query block is whole tiles wide");
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// 2^x for x <= 0: x = n + f with |f| <= 1/2, 2^f by its degree-6 Taylor polynomial (relative
// error < 1.2e-7), 2^n built in the exponent bits. Below -126.5 (and for -inf, i.e. masked
// scores) the result is exactly 0.
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
  // n = -127 (x <= -126.5, including -inf) gives exponent bits 0, i.e. the factor 0.0f.
  return hn::Mul(p, hn::BitCast(d, bits));
}

// A register tile of R rows x kVecs vectors over columns c.. of a row-major [.][kBlockQ] matrix:
//   C[r][c..] = (alpha[c..] * C[r][c..], or 0) + sum_t a[r][t] * B[t][c..]
// where a[r][t] = A[r * a_row + t * a_col] is broadcast and B[t] = B + t * kBlockQ.
template <int R, int V, bool kAccumulate>
HWY_INLINE void Tile(const float* HWY_RESTRICT A, size_t a_row, size_t a_col,
                     const float* HWY_RESTRICT B, int count, const float* HWY_RESTRICT alpha,
                     float* HWY_RESTRICT C) {
  const DF d;
  const size_t N = hn::Lanes(d);
  VF acc[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v)
      acc[r][v] = kAccumulate
                      ? hn::Mul(hn::Load(d, alpha + v * N), hn::Load(d, C + r * kBlockQ + v * N))
                      : hn::Zero(d);
  for (int t = 0; t < count; ++t, B += kBlockQ) {
    VF b[V];
    for (int v = 0; v < V; ++v) b[v] = hn::Load(d, B + v * N);
    for (int r = 0; r < R; ++r) {
      const VF a = hn::Set(d, A[r * a_row + t * a_col]);
      for (int v = 0; v < V; ++v) acc[r][v] = hn::MulAdd(a, b[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) hn::Store(acc[r][v], d, C + r * kBlockQ + v * N);
}

// Calls f.template operator()<V>(c) over the query columns [0, cols) (whole vectors): tiles
// kVecs vectors wide, then single vectors for the rest, so a short block (one query of a
// sliding window, a ragged tail) computes one vector's columns, not kVecs.
template <class F>
HWY_INLINE void ForColumns(int cols, F&& f) {
  const int n = static_cast<int>(hn::Lanes(DF()));
  int c = 0;
  for (; c + kVecs * n <= cols; c += kVecs * n) f.template operator()<kVecs>(c);
  for (; c < cols; c += n) f.template operator()<1>(c);
}

// Calls f.template operator()<R>(r0) over tiles of kTile rows out of `rows`, remainder last.
template <class F>
HWY_INLINE void ForTiles(int rows, F&& f) {
  int r0 = 0;
  for (; r0 + kTile <= rows; r0 += kTile) f.template operator()<kTile>(r0);
  switch (rows - r0) {
    case 5:
      if constexpr (kTile > 5) f.template operator()<5>(r0);
      break;
    case 4:
      if constexpr (kTile > 4) f.template operator()<4>(r0);
      break;
    case 3:
      f.template operator()<3>(r0);
      break;
    case 2:
      f.template operator()<2>(r0);
      break;
    case 1:
      f.template operator()<1>(r0);
      break;
    default:
      break;
  }
}

// S^T rows j < nk of key block kb (columns < cols), masked entries set to -inf.
void Scores(const BlockTask& t, const float* qt, int cols, int64_t j0, int nk, float* st) {
  const float* k = t.k + j0 * t.k_stride;
  ForTiles(nk, [&]<int R>(int r0) {
    ForColumns(cols, [&]<int V>(int c) {
      Tile<R, V, false>(k + r0 * t.k_stride, t.k_stride, 1, qt + c, t.head_dim, nullptr,
                        st + r0 * kBlockQ + c);
    });
  });
  // Key j0+j is visible to query row0+i iff j0+j < row0+i+lk-lq+1 (bottom-right causal).
  if (!t.causal) return;
  const int64_t first_end = t.row0 + t.lk - t.lq + 1;  // keys visible to the block's row 0
  for (int j = 0; j < nk; ++j) {
    // Rows i < j0 + j - first_end + 1 do not see key j.
    const int64_t hidden = std::clamp<int64_t>(j0 + j - first_end + 1, 0, cols);
    std::fill(st + j * kBlockQ, st + j * kBlockQ + hidden, kNegInf);
  }
}

// The two transposes of a task: q rows -> Q^T (scaled) and O^T -> out rows (times 1/l).
// On AVX2 and AVX-512 in 8 x 8 blocks of 256-bit registers (strided scalar copies cost ~15% on
// short sequences); other targets and the ragged edges copy element by element.
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#define QKV_FLASH_TRANSPOSE8 1
using D8 = hn::FixedTag<float, 8>;
using V8 = hn::Vec<D8>;
HWY_INLINE void Transpose8(D8 d, V8 r[8]) {
  const hn::Repartition<double, D8> dd;
  V8 t[8], u[8];
  for (int k = 0; k < 8; k += 2) {
    t[k] = hn::InterleaveLower(d, r[k], r[k + 1]);
    t[k + 1] = hn::InterleaveUpper(d, r[k], r[k + 1]);
  }
  for (int k = 0; k < 8; k += 4) {
    for (int h = 0; h < 2; ++h) {
      const auto a = hn::BitCast(dd, t[k + h]), b = hn::BitCast(dd, t[k + h + 2]);
      u[k + 2 * h] = hn::BitCast(d, hn::InterleaveLower(dd, a, b));
      u[k + 2 * h + 1] = hn::BitCast(d, hn::InterleaveUpper(dd, a, b));
    }
  }
  for (int k = 0; k < 4; ++k) {
    r[k] = hn::ConcatLowerLower(d, u[k + 4], u[k]);
    r[k + 4] = hn::ConcatUpperUpper(d, u[k + 4], u[k]);
  }
}
#endif

void LoadQT(const BlockTask& t, float* HWY_RESTRICT qt) {
  int i0 = 0, c0 = 0;
#ifdef QKV_FLASH_TRANSPOSE8
  const D8 d;
  const V8 scale = hn::Set(d, t.qscale);
  for (; i0 + 8 <= t.rows; i0 += 8)
    for (c0 = 0; c0 + 8 <= t.head_dim; c0 += 8) {
      V8 r[8];
      for (int k = 0; k < 8; ++k) r[k] = hn::LoadU(d, t.q + (i0 + k) * t.q_stride + c0);
      Transpose8(d, r);
      for (int k = 0; k < 8; ++k) hn::Store(hn::Mul(r[k], scale), d, qt + (c0 + k) * kBlockQ + i0);
    }
  // Edges: dims past the last whole 8 for the rows done above, then the remaining rows.
  for (int i = 0; i < i0; ++i)
    for (int c = c0; c < t.head_dim; ++c) qt[c * kBlockQ + i] = t.q[i * t.q_stride + c] * t.qscale;
#endif
  (void)c0;
  for (int i = i0; i < t.rows; ++i)
    for (int c = 0; c < t.head_dim; ++c) qt[c * kBlockQ + i] = t.q[i * t.q_stride + c] * t.qscale;
}

void StoreOut(const BlockTask& t, const float* HWY_RESTRICT ot, const float* HWY_RESTRICT inv) {
  int i0 = 0, c0 = 0;
#ifdef QKV_FLASH_TRANSPOSE8
  const D8 d;
  for (; i0 + 8 <= t.rows; i0 += 8)
    for (c0 = 0; c0 + 8 <= t.head_dim; c0 += 8) {
      V8 r[8];
      for (int k = 0; k < 8; ++k) r[k] = hn::Load(d, ot + (c0 + k) * kBlockQ + i0);
      Transpose8(d, r);
      for (int k = 0; k < 8; ++k)
        hn::StoreU(hn::Mul(r[k], hn::Set(d, inv[i0 + k])), d, t.out + (i0 + k) * t.out_stride + c0);
    }
  for (int i = 0; i < i0; ++i)
    for (int c = c0; c < t.head_dim; ++c)
      t.out[i * t.out_stride + c] = ot[c * kBlockQ + i] * inv[i];
#endif
  (void)c0;
  for (int i = i0; i < t.rows; ++i)
    for (int c = 0; c < t.head_dim; ++c) t.out[i * t.out_stride + c] = ot[c * kBlockQ + i] * inv[i];
}

#undef QKV_FLASH_TRANSPOSE8

void AttendBlock(const BlockTask& t) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const int dim = t.head_dim, rows = t.rows;
  const int cols = static_cast<int>(hwy::RoundUpTo(size_t(rows), N));
  // Scratch, all [.][kBlockQ]: Q^T, S^T (then P^T), O^T, and the per-query state. On the stack
  // up to head_dim 128 (83 KiB, 162 KiB on AVX-512; oneTBB workers have 4 MiB): short sequences run
  // many tasks, and a heap block per task costs allocator and page-fault time. No thread_local: it
  // would pin the plugin's shared object in memory past dlclose.
  constexpr int kStackDim = 128;
  HWY_ALIGN float stack_scratch[size_t(kBlockQ) * (2 * kStackDim + kBlockK + 4)];
  hwy::AlignedFreeUniquePtr<float[]> heap_scratch;
  if (dim > kStackDim)
    heap_scratch = hwy::AllocateAligned<float>(size_t(kBlockQ) * (2 * dim + kBlockK + 4));
  float* qt = dim > kStackDim ? heap_scratch.get() : stack_scratch;
  float* st = qt + size_t(dim) * kBlockQ;
  float* ot = st + size_t(kBlockK) * kBlockQ;
  float* m = ot + size_t(dim) * kBlockQ;
  float* l = m + kBlockQ;
  float* alpha = l + kBlockQ;
  float* msafe = alpha + kBlockQ;
  // Keys past the last row's visible end are never touched: causal tiles above the diagonal
  // are skipped, not masked.
  const int64_t kend = t.causal ? std::clamp<int64_t>(t.row0 + rows + t.lk - t.lq, 0, t.lk) : t.lk;
  LoadQT(t, qt);
  // Only the padding query columns of Q^T need zeros (whole blocks have none).
  if (rows < cols)
    for (int c = 0; c < dim; ++c) std::fill(qt + c * kBlockQ + rows, qt + c * kBlockQ + cols, 0.0f);
  // O^T is written by the first key block (no accumulation); zeros only if there is none.
  if (kend == 0) std::fill(ot, ot + size_t(dim) * kBlockQ, 0.0f);
  std::fill(m, m + kBlockQ, kNegInf);
  std::fill(l, l + kBlockQ, 0.0f);
  std::fill(msafe, msafe + kBlockQ, 0.0f);

  const VF neg_inf = hn::Set(d, kNegInf);
  for (int64_t j0 = 0; j0 < kend; j0 += kBlockK) {
    const int nk = static_cast<int>(std::min<int64_t>(kBlockK, kend - j0));
#if HWY_TARGET != HWY_AVX3 && HWY_TARGET != HWY_AVX3_DL
    // K/V rows are strided (heads interleave), which hardware prefetchers followed poorly on
    // the AVX2 machine this was tuned on once a head's keys outgrow L2: fetch the next block's
    // rows while this one computes. Not on AVX-512: there it cost 10% at L=2048 and 12% at
    // L=8192 (per CPU-second, EPYC with AVX-512).
    const int64_t next = std::min<int64_t>(kBlockK, kend - j0 - kBlockK);
    for (int64_t j = 0; j < next; ++j)
      for (int c = 0; c < dim; c += 16) {
        __builtin_prefetch(t.k + (j0 + kBlockK + j) * t.k_stride + c, 0);
        __builtin_prefetch(t.v + (j0 + kBlockK + j) * t.v_stride + c, 0);
      }
#endif
    Scores(t, qt, cols, j0, nk, st);
    for (int c = 0; c < cols; c += static_cast<int>(N)) {
      VF mx = neg_inf;
      for (int j = 0; j < nk; ++j) mx = hn::Max(mx, hn::Load(d, st + j * kBlockQ + c));
      const VF mold = hn::Load(d, m + c);
      const VF mnew = hn::Max(mold, mx);
      // A query that sees nothing yet keeps max -inf; shift by 0 so its p stay exactly 0.
      const VF ms = hn::IfThenZeroElse(hn::Eq(mnew, neg_inf), mnew);
      const VF a = Exp2(d, hn::Sub(mold, ms));  // 0 when mold is -inf
      VF sum = hn::Zero(d);
      for (int j = 0; j < nk; ++j) {
        float* s = st + j * kBlockQ + c;
        const VF p = Exp2(d, hn::Sub(hn::Load(d, s), ms));
        hn::Store(p, d, s);
        sum = hn::Add(sum, p);
      }
      hn::Store(hn::MulAdd(hn::Load(d, l + c), a, sum), d, l + c);
      hn::Store(mnew, d, m + c);
      hn::Store(ms, d, msafe + c);
      hn::Store(a, d, alpha + c);
    }
    const float* v = t.v + j0 * t.v_stride;
    ForTiles(dim, [&]<int R>(int d0) {
      ForColumns(cols, [&]<int V>(int c) {
        if (j0 == 0)
          Tile<R, V, false>(v + d0, 1, t.v_stride, st + c, nk, nullptr, ot + d0 * kBlockQ + c);
        else
          Tile<R, V, true>(v + d0, 1, t.v_stride, st + c, nk, alpha + c, ot + d0 * kBlockQ + c);
      });
    });
  }

  for (int c = 0; c < cols; c += static_cast<int>(N)) {  // 1/l, or 0 for a query seeing nothing
    const VF lv = hn::Load(d, l + c);
    const VF inv = hn::IfThenZeroElse(hn::Eq(lv, hn::Zero(d)), hn::Div(hn::Set(d, 1.0f), lv));
    hn::Store(inv, d, l + c);
  }
  StoreOut(t, ot, l);
  if (!t.probs) return;

  // Probabilities were asked for: recompute each score tile with the final max and 1/sum.
  for (int64_t j0 = 0; j0 < t.lk; j0 += kBlockK) {
    const int width = static_cast<int>(std::min<int64_t>(kBlockK, t.lk - j0));
    if (j0 >= kend) {
      for (int i = 0; i < rows; ++i) std::fill_n(t.probs + i * t.lk + j0, width, 0.0f);
      continue;
    }
    Scores(t, qt, cols, j0, width, st);
    for (int j = 0; j < width; ++j)
      for (int c = 0; c < cols; c += static_cast<int>(N)) {
        float* s = st + j * kBlockQ + c;
        const VF p = Exp2(d, hn::Sub(hn::Load(d, s), hn::Load(d, msafe + c)));
        hn::Store(hn::Mul(p, hn::Load(d, l + c)), d, s);
      }
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < width; ++j) t.probs[i * t.lk + j0 + j] = st[j * kBlockQ + i];
  }
}

int64_t TargetBit() { return HWY_TARGET; }
int BlockRows() { return kBlockQ; }

}  // namespace HWY_NAMESPACE
}  // namespace qkv::attention::flash
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace qkv::attention::flash {
HWY_EXPORT(AttendBlock);
HWY_EXPORT(TargetBit);
HWY_EXPORT(BlockRows);

void attend_block(const BlockTask& t) { HWY_DYNAMIC_DISPATCH(AttendBlock)(t); }
int block_rows() { return HWY_DYNAMIC_DISPATCH(BlockRows)(); }
const char* target_name() { return hwy::TargetName(HWY_DYNAMIC_DISPATCH(TargetBit)()); }
}  // namespace qkv::attention::flash
#endif
