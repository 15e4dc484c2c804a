// NumPy .npy files (format versions 1.0-3.0 read, 1.0 written): little-endian, C order.
// Small whole-file reader/writer for tools and tests (e.g. `qkvd attention`); not streaming.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace qkv::io {

class NpyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NpyArray {
  std::string dtype;            // numpy descr, e.g. "<f4", "<i4", "<i8"
  std::vector<int64_t> shape;   // empty: a scalar
  std::vector<std::byte> data;  // C order, little-endian

  int64_t elements() const noexcept;
  size_t item_size() const;  // from dtype
  // The data as T, checked against dtype ("<f4" float, "<i4" int32_t, "<i8" int64_t).
  template <class T>
  std::vector<T> as() const;
};

// Throws NpyError naming the file and the problem (bad magic, unsupported dtype, Fortran
// order, truncated data, ...).
NpyArray read_npy(const std::filesystem::path& file);
// The same from a stream already open on `file` (named in messages).
NpyArray read_npy(std::istream& in, const std::filesystem::path& file);

// Writes (version 1.0 header). dtype "<f4", "<i4" or "<i8"; data.size() must match the shape.
void write_npy(const std::filesystem::path& file, const std::string& dtype,
               std::span<const int64_t> shape, std::span<const std::byte> data);

template <class T>
void write_npy(const std::filesystem::path& file, std::span<const int64_t> shape,
               std::span<const T> values);

}  // namespace qkv::io
