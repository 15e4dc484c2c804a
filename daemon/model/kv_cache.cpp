#include "model/kv_cache.hpp"

#include <algorithm>
#include <stdexcept>

namespace qkv::model {

SequenceCache::SequenceCache(uint32_t layers, uint32_t kv_width, uint32_t capacity,
                             uint32_t cross_width)
    : layers_(layers),
      d_(kv_width),
      cross_d_(cross_width ? cross_width : kv_width),
      capacity_(capacity),
      self_(2 * size_t(layers) * capacity * kv_width),
      cross_(std::make_shared<std::vector<float>>()) {}

void SequenceCache::reserve_cross(uint32_t tokens) {
  cross_len_ = tokens;
  cross_ = std::make_shared<std::vector<float>>(2 * size_t(layers_) * tokens * cross_d_, 0.0f);
}

void SequenceCache::share_cross(const SequenceCache& from) {
  cross_len_ = from.cross_len_;
  cross_d_ = from.cross_d_;
  cross_ = from.cross_;
}

void SequenceCache::copy_from(const SequenceCache& from) {
  if (from.layers_ != layers_ || from.d_ != d_ || from.capacity_ < from.length_ ||
      capacity_ < from.length_)
    throw std::invalid_argument("SequenceCache::copy_from: caches of different shapes");
  const size_t rows = size_t(from.length_) * d_;
  for (uint32_t l = 0; l < layers_; ++l) {
    const float* k = from.self_.data() + 2 * size_t(l) * from.capacity_ * d_;
    std::copy_n(k, rows, keys(l));
    std::copy_n(k + size_t(from.capacity_) * d_, rows, values(l));
  }
  length_ = from.length_;
}

}  // namespace qkv::model
