#include "host/call_checks.hpp"

#include <qkv/positions.hpp>

namespace qkv::host {

std::string check_positional_args(const float* x, size_t row_stride, size_t width,
                                  std::span<const int32_t> positions) {
  if (positions.empty()) return {};
  if (!x || !positions.data()) return "x and positions must not be NULL";
  if (row_stride < width)
    return "row_stride " + std::to_string(row_stride) + " is smaller than a row (" +
           std::to_string(width) + " floats)";
  return sdk::positions_error(positions, 0);  // the upper bound is the plugin's table
}

}  // namespace qkv::host
