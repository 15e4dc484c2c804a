// The unit of work of the flash kernel, shared by the driver and the per-target SIMD code.
#ifndef QKV_FLASH_BLOCK_HPP
#define QKV_FLASH_BLOCK_HPP

#include <cstddef>
#include <cstdint>

namespace qkv::attention::flash {

// Query rows per block are per SIMD target (flash_kernels.cpp, block_rows()): 128 on AVX-512,
// 64 elsewhere. Keys per score tile are the same on every target.
#ifndef QKV_FLASH_BK
#define QKV_FLASH_BK 64
#endif
inline constexpr int kBlockK = QKV_FLASH_BK;  // keys per score tile

// Query rows per block of the SIMD target running here (flash_kernels.cpp).
int block_rows();

// One query block of one (sequence, query head) against the keys/values of its kv head.
struct BlockTask {
  const float* q;  // first query row of the block, this head
  size_t q_stride;
  const float* k;  // key 0 of the sequence, this kv head
  size_t k_stride;
  const float* v;  // value 0 of the sequence, this kv head
  size_t v_stride;
  float* out;
  size_t out_stride;
  float* probs;  // row 0 of this block in the [Lq][Lk] probs matrix, or nullptr
  int rows;      // valid query rows (<= block_rows())
  int64_t row0;  // index of the first row within its sequence
  int64_t lq, lk;
  int head_dim;
  bool causal;
  float qscale;  // scale * log2(e): scores come out in base 2
};

}  // namespace qkv::attention::flash

#endif
