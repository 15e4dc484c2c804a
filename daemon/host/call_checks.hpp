// Cheap checks of call arguments before they cross into a plugin: a caller's mistake becomes a
// clear PluginError(QKV_ERR_INVALID_ARGUMENT) instead of a plugin reading out of bounds.
// Attention calls are checked by the SDK's own qkv/attention_check.hpp (the plugins run the
// same check); positions by qkv/positions.hpp.
#pragma once

#include <qkv/abi.h>

#include <cstdint>
#include <span>
#include <string>

namespace qkv::host {

// Empty when positions are all >= 0 and the row layout holds `width` floats per token.
std::string check_positional_args(const float* x, size_t row_stride, size_t width,
                                  std::span<const int32_t> positions);

}  // namespace qkv::host
