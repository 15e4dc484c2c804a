// Validation and geometry of a qkv_attention_args call, shared by the attention backends.
#ifndef QKV_ATTENTION_ARGS_HPP
#define QKV_ATTENTION_ARGS_HPP

#include <qkv/abi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace qkv::attention {

// The call's arguments with defaults resolved (strides, scale) and checked.
struct Geometry {
  uint32_t batch = 0, heads_q = 0, heads_kv = 0, head_dim = 0;
  bool causal = false;
  float scale = 0;
  size_t q_stride = 0, k_stride = 0, v_stride = 0, out_stride = 0;
  uint32_t group = 1;                // heads_q / heads_kv
  std::vector<size_t> probs_offset;  // per sequence: first float of its probs block
};

// Throws qkv::sdk::Error(QKV_ERR_INVALID_ARGUMENT) naming the offending field.
Geometry check_args(const qkv_attention_args& a);

// Bottom-right aligned causal limit: query i of Lq sees keys j < visible_end(i) (clamped to Lk).
inline int64_t visible_end(bool causal, int64_t i, int64_t lq, int64_t lk) {
  if (!causal) return lk;
  int64_t end = i + lk - lq + 1;
  return end < 0 ? 0 : (end > lk ? lk : end);
}

}  // namespace qkv::attention

#endif
