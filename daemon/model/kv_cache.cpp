#include "model/kv_cache.hpp"

namespace qkv::model {

SequenceCache::SequenceCache(uint32_t layers, uint32_t d_model, uint32_t capacity)
    : layers_(layers),
      d_(d_model),
      capacity_(capacity),
      self_(2 * size_t(layers) * capacity * d_model) {}

void SequenceCache::reserve_cross(uint32_t tokens) {
  cross_len_ = tokens;
  cross_.assign(2 * size_t(layers_) * tokens * d_, 0.0f);
}

}  // namespace qkv::model
