#include "npy_header.hpp"

#include <stdexcept>

namespace qkv::io {

std::string npy_header(const std::string& descr, std::span<const int64_t> shape) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) dict += ", ";
    dict += std::to_string(shape[i]);
  }
  if (shape.size() == 1) dict += ",";  // a 1-tuple, as Python writes it
  dict += "), }";
  constexpr size_t kGrowthDigits = 21;  // numpy's GROWTH_AXIS_MAX_DIGITS
  if (!shape.empty()) {
    const size_t digits = std::to_string(shape[0]).size();
    if (digits < kGrowthDigits) dict.append(kGrowthDigits - digits, ' ');
  }
  constexpr size_t kPreamble = 10;  // magic (6) + version (2) + length (2)
  const size_t pad = 64 - (kPreamble + dict.size() + 1) % 64;  // 1..64, as numpy computes it
  const size_t dict_len = dict.size() + pad + 1;
  if (dict_len > 0xffff) throw std::length_error("npy header too long");
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(dict_len & 0xff);
  out += static_cast<char>(dict_len >> 8);
  out += dict;
  out.append(pad, ' ');
  out += '\n';
  return out;
}

}  // namespace qkv::io
