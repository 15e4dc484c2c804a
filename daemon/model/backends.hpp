// What the runtime needs from attention and positional implementations. The ModelStage adapts
// the host's plugin handles to these; built-in positions implement them directly.
#pragma once

#include <qkv/abi.h>

#include <cstdint>
#include <memory>
#include <span>

namespace qkv::model {

struct ModelConfig;
struct StackWeights;

class AttentionBackend {
 public:
  virtual ~AttentionBackend() = default;
  // One packed varlen batch; struct_size is filled in by the caller. Throws on error.
  virtual void forward(const qkv_attention_args& args) const = 0;
};

class PositionalBackend {
 public:
  virtual ~PositionalBackend() = default;
  virtual bool rotary() const = 0;
  virtual int64_t max_positions() const = 0;  // 0: unbounded
  // x[t*row_stride + i] += PE(positions[t])[i], i < dim.
  virtual void add(float* x, uint32_t dim, size_t row_stride,
                   std::span<const int32_t> positions) const = 0;
  // x is [n, heads, head_dim] with token stride row_stride; rotated in place.
  virtual void rotate(float* x, uint32_t heads, uint32_t head_dim, size_t row_stride,
                      std::span<const int32_t> positions) const = 0;
};

// The positions the model config asks for, computed in the runtime (learned table from the
// stack's weights, sinusoidal, rotary NeoX half-split); nullptr for Positions::None.
std::unique_ptr<PositionalBackend> builtin_positions(const ModelConfig& config,
                                                     const StackWeights& stack);

}  // namespace qkv::model
