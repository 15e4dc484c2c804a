// Typed access to a positional-encoding plugin instance (additive or rotary).
#pragma once

#include "host/plugin_instance.hpp"

#include <cstdint>
#include <span>

namespace qkv::host {

class PositionalHandle {
 public:
  explicit PositionalHandle(std::shared_ptr<PluginInstance> instance);

  const qkv_positional_info& info() const noexcept { return info_; }
  bool rotary() const noexcept { return info_.mode == QKV_POSITIONAL_ROTARY; }

  // x[t*row_stride + i] += PE(positions[t])[i] for t < positions.size(), i < dim.
  void add(float* x, uint32_t dim, size_t row_stride, std::span<const int32_t> positions) const;
  // x is [n, heads, head_dim] (token stride row_stride floats), n = positions.size().
  void rotate(float* x, uint32_t heads, uint32_t head_dim, size_t row_stride,
              std::span<const int32_t> positions) const;
  const LoadedPlugin& plugin() const noexcept { return instance_->plugin(); }

 private:
  std::shared_ptr<PluginInstance> instance_;
  const qkv_positional_api* api_;
  qkv_positional_info info_{};
};

}  // namespace qkv::host
