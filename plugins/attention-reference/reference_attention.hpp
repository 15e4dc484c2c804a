// The oracle: softmax(q k^T * scale + mask) v by its definition, accumulated in double.
// Every other attention plugin is tested against this.
#ifndef QKV_REFERENCE_ATTENTION_HPP
#define QKV_REFERENCE_ATTENTION_HPP

#include <qkv/abi.h>

namespace qkv::attention {

// Throws std::invalid_argument (qkv/attention_check.hpp) on invalid arguments. Parallel over
// (sequence, head) with oneTBB; every output row is computed by one thread in a fixed order.
void reference_forward(const qkv_attention_args& args);

}  // namespace qkv::attention

#endif
