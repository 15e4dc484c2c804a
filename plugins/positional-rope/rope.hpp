// Rotary position embedding (Su et al. 2021), the math behind plugin positional-rope.
// Pair i (i < rotary_dim/2) turns by angle pos * base^(-2i/rotary_dim). Two layouts:
//   neox: pair i is (x[i], x[i + rotary_dim/2])  (GPT-NeoX, HF LLaMA's rotate_half)
//   gptj: pair i is (x[2i], x[2i+1])             (GPT-J's rotate_every_two)
// Dimensions past rotary_dim (rotary_fraction < 1) are left untouched. Angles, sines and the
// rotation itself are computed in double and rounded once to float.
// Context-extension scalings change the frequencies, as HF transformers' modeling_rope_utils.py
// does: `linear` divides every frequency by `factor` (_compute_linear_scaling_rope_parameters);
// `llama3` divides the low frequencies by `factor`, keeps the high ones and blends in between
// (_compute_llama3_parameters, Llama 3.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace qkv::positional {

enum class RopeLayout { neox, gptj };

struct RopeScaling {
  enum class Kind { none, linear, llama3 } kind = Kind::none;
  double factor = 1.0;
  double low_freq_factor = 1.0;       // llama3
  double high_freq_factor = 4.0;      // llama3
  double original_max_positions = 0;  // llama3: the pre-extension context length
};

// "none", "linear" or "llama3"; throws std::invalid_argument naming the others.
RopeScaling::Kind parse_rope_scaling(std::string_view name);

// "neox" or "gptj"; throws std::invalid_argument otherwise.
RopeLayout parse_rope_layout(std::string_view name);

class Rope {
 public:
  // fraction in (0, 1]; max_positions 0: unbounded. Throws std::invalid_argument.
  Rope(RopeLayout layout, double base = 10000.0, double rotary_fraction = 1.0,
       int64_t max_positions = 0, RopeScaling scaling = {});

  RopeLayout layout() const noexcept { return layout_; }
  int64_t max_positions() const noexcept { return max_positions_; }

  // Number of rotated dims for a head width: floor(fraction * head_dim), as HF computes it.
  // Throws std::invalid_argument when it is odd or zero.
  uint32_t rotary_dim(uint32_t head_dim) const;

  // The rotary_dim/2 angular frequencies of pair i, after scaling.
  std::vector<double> inv_freq(uint32_t rotary_dim) const;

  // Rotates x ([n, heads, head_dim], token stride row_stride floats) in place. Checks all
  // arguments and positions first (std::invalid_argument / std::out_of_range), x untouched.
  void rotate(float* x, uint32_t heads, uint32_t head_dim, size_t row_stride,
              std::span<const int32_t> positions) const;

 private:
  RopeLayout layout_;
  double base_;
  double fraction_;
  int64_t max_positions_;
  RopeScaling scaling_;
};

}  // namespace qkv::positional
