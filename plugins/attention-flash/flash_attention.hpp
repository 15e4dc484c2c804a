// Tiled attention with an online softmax (FlashAttention-2 loop order): Highway SIMD kernels
// chosen at run time (AVX2, SSE4, scalar), oneTBB parallel over sequences x heads x query
// blocks. Each output row is computed by exactly one task in a fixed order, so results are the
// same bytes whatever the thread count.
#ifndef QKV_FLASH_ATTENTION_HPP
#define QKV_FLASH_ATTENTION_HPP

#include <qkv/abi.h>

namespace qkv::attention {

// Throws std::invalid_argument (qkv/attention_check.hpp) on invalid arguments.
void flash_forward(const qkv_attention_args& args);

// Name of the SIMD target the dispatcher picked on this machine (e.g. "AVX2").
const char* flash_target_name();

}  // namespace qkv::attention

#endif
