// safetensors: 8-byte little-endian header length, a JSON header, then raw tensor bytes.
// The parser validates everything before any byte of tensor data is touched, so a truncated
// or malformed file is a ModelError, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::model {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);

struct TensorEntry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
  uint64_t elements() const;
};

struct SafetensorsHeader {
  std::vector<TensorEntry> tensors;  // sorted by name
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // 8 + header length
};

// Largest header we accept (the reference implementation uses the same 100 MB bound).
inline constexpr uint64_t kMaxSafetensorsHeader = 100u << 20;

// Parses and validates the header of a whole file image. `where` names the file in errors.
SafetensorsHeader parse_safetensors(std::span<const std::byte> file, std::string_view where);

// Converts f32 / f16 / bf16 little-endian bytes to f32; other dtypes are an error.
void convert_to_f32(DType dtype, std::span<const std::byte> bytes, std::span<float> out);

// A memory-mapped safetensors file. Immutable after open; safe to read from many threads.
class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::filesystem::path& path);
  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  const std::filesystem::path& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  const TensorEntry* find(std::string_view name) const;  // nullptr when absent
  std::span<const std::byte> bytes(const TensorEntry& t) const;
  std::vector<float> to_f32(const TensorEntry& t) const;

 private:
  struct Mapping;
  SafetensorsFile() = default;
  std::filesystem::path path_;
  std::unique_ptr<Mapping> map_;
  SafetensorsHeader header_;
};

}  // namespace qkv::model
