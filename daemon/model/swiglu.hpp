// The gated feed-forward of Llama-family models (Shazeer 2020, "GLU Variants Improve
// Transformer"; HF modeling_llama.py LlamaMLP: down_proj(act_fn(gate_proj(x)) * up_proj(x))).
#pragma once

#include <cstddef>

namespace qkv::model {

// gate_up is [rows, 2*width] (gate | up, the fused projection of daemon/model/hf_llama.cpp);
// out[r, i] = silu(gate[r, i]) * up[r, i], out is [rows, width]. Each value alone, so results
// do not depend on the thread count.
void swiglu_rows(const float* gate_up, float* out, size_t rows, size_t width);

}  // namespace qkv::model
