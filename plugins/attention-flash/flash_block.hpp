// The unit of work of the flash kernel, shared by the driver and the per-target SIMD code.
#ifndef QKV_FLASH_BLOCK_HPP
#define QKV_FLASH_BLOCK_HPP

#include <cstddef>
#include <cstdint>

namespace qkv::attention::flash {

inline constexpr int kBlockQ = 64;  // query rows per task
inline constexpr int kBlockK = 64;  // keys per packed block
inline constexpr int kPadD = 16;    // V rows and the output tile are padded to this many floats

inline constexpr size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

// Keys and values of one (sequence, kv head), packed once per call: for each key block,
// K transposed as [head_dim][kBlockK] and V as [kBlockK][padded_dim], zero-padded.
struct PackedKV {
  const float* kt;
  const float* v;
  size_t kt_block;  // floats per key block in kt (head_dim * kBlockK)
  size_t v_block;   // floats per key block in v (kBlockK * padded_dim)
};

// One query block of one (sequence, query head).
struct BlockTask {
  const float* q;  // first row of the block, this head
  size_t q_stride;
  float* out;
  size_t out_stride;
  float* probs;  // row 0 of this block in the [Lq][Lk] probs matrix, or nullptr
  int rows;      // valid query rows (<= kBlockQ)
  int64_t row0;  // index of the first row within its sequence
  int64_t lq, lk;
  int head_dim, padded_dim;
  bool causal;
  float qscale;  // scale * log2(e): scores come out in base 2
  PackedKV kv;
};

}  // namespace qkv::attention::flash

#endif
