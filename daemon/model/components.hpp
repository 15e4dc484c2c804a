// The interfaces the runtime computes attention and positions through. It computes neither
// itself: daemon/model/stage.cpp and plugin_positions.cpp adapt the host's plugin
// handles to these (tests add an independent double-precision attention).
#pragma once

#include <qkv/abi.h>

#include <cstdint>
#include <span>

namespace qkv::model {

class Attention {
 public:
  virtual ~Attention() = default;
  // One packed varlen batch; struct_size is filled in by the caller. Throws on error.
  virtual void forward(const qkv_attention_args& args) const = 0;
};

class PositionalEncoding {
 public:
  virtual ~PositionalEncoding() = default;
  virtual bool rotary() const = 0;
  virtual int64_t max_positions() const = 0;  // 0: unbounded
  // Each call covers a whole packed batch (every row of every document), never one row: the
  // per-call cost of crossing the plugin ABI is paid once per batch and layer.
  // x[t*row_stride + i] += PE(positions[t])[i], i < dim.
  virtual void add(float* x, uint32_t dim, size_t row_stride,
                   std::span<const int32_t> positions) const = 0;
  // x is [n, heads, head_dim] with token stride row_stride; rotated in place.
  virtual void rotate(float* x, uint32_t heads, uint32_t head_dim, size_t row_stride,
                      std::span<const int32_t> positions) const = 0;
};

}  // namespace qkv::model
