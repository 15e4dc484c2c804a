#include "model/kv_cache.hpp"

namespace qkv::model {

SequenceCache::SequenceCache(uint32_t layers, uint32_t kv_width, uint32_t capacity,
                             uint32_t cross_width)
    : layers_(layers),
      d_(kv_width),
      cross_d_(cross_width ? cross_width : kv_width),
      capacity_(capacity),
      self_(2 * size_t(layers) * capacity * kv_width) {}

void SequenceCache::reserve_cross(uint32_t tokens) {
  cross_len_ = tokens;
  cross_.assign(2 * size_t(layers_) * tokens * cross_d_, 0.0f);
}

}  // namespace qkv::model
