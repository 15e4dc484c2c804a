// Rotary position embedding (Su et al. 2021), the math behind plugin positional-rope.
// Pair i (i < rotary_dim/2) turns by angle pos * base^(-2i/rotary_dim). Two layouts:
//   neox: pair i is (x[i], x[i + rotary_dim/2])  (GPT-NeoX, HF LLaMA's rotate_half)
//   gptj: pair i is (x[2i], x[2i+1])             (GPT-J's rotate_every_two)
// Dimensions past rotary_dim (rotary_fraction < 1) are left untouched. Angles, sines and the
// rotation itself are computed in double and rounded once to float.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace qkv::positional {

enum class RopeLayout { neox, gptj };

// "neox" or "gptj"; throws std::invalid_argument otherwise.
RopeLayout parse_rope_layout(std::string_view name);

class Rope {
 public:
  // fraction in (0, 1]; max_positions 0: unbounded. Throws std::invalid_argument.
  Rope(RopeLayout layout, double base = 10000.0, double rotary_fraction = 1.0,
       int64_t max_positions = 0);

  RopeLayout layout() const noexcept { return layout_; }
  int64_t max_positions() const noexcept { return max_positions_; }

  // Number of rotated dims for a head width: floor(fraction * head_dim), as HF computes it.
  // Throws std::invalid_argument when it is odd or zero.
  uint32_t rotary_dim(uint32_t head_dim) const;

  // Rotates x ([n, heads, head_dim], token stride row_stride floats) in place. Checks all
  // arguments and positions first (std::invalid_argument / std::out_of_range), x untouched.
  void rotate(float* x, uint32_t heads, uint32_t head_dim, size_t row_stride,
              std::span<const int32_t> positions) const;

 private:
  RopeLayout layout_;
  double base_;
  double fraction_;
  int64_t max_positions_;
};

}  // namespace qkv::positional
