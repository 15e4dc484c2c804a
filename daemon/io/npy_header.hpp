// The NumPy .npy v1.0 header, byte for byte as numpy.save (1.24) writes it: magic, version,
// little-endian u16 length, the dict literal, spare spaces so the first axis can grow to 21
// digits in place, then spaces and LF up to a multiple of 64 bytes. Because of that spare room
// the header size does not depend on the first axis, so a streaming writer can write it first
// and rewrite it with the final row count.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace qkv::io {

// `descr` e.g. "<f4", "<i8".
std::string npy_header(const std::string& descr, std::span<const int64_t> shape);

}  // namespace qkv::io
