// Sliding-window attention (QKV_MASK_SLIDING_WINDOW) on the flash kernels, which know only
// "no mask" and "causal": the call is rewritten into calls they do run exactly.
#ifndef QKV_FLASH_WINDOW_HPP
#define QKV_FLASH_WINDOW_HPP

#include <qkv/abi.h>
#include <qkv/attention_check.hpp>

namespace qkv::attention {

// `g` is attention_geometry(a) with g.mask == QKV_MASK_SLIDING_WINDOW.
void flash_sliding_window(const qkv_attention_args& a, const sdk::AttentionGeometry& g);

}  // namespace qkv::attention

#endif
