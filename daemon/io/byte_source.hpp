// Streaming byte sources: a plain file, or one decompressed on the fly (.gz with zlib, .zst
// with libzstd), chosen by the last extension.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

#include "directory.hpp"

namespace qkv::io {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes; returns 0 only at the end. Throws IoError.
  virtual size_t read(char* buf, size_t n) = 0;
  // Whether read() would return without waiting: always for files; for a pipe or terminal
  // (stdin), whether bytes (or its end) are there within `wait_ms` milliseconds.
  virtual bool ready(int wait_ms = 0) const {
    (void)wait_ms;
    return true;
  }
};

enum class Compression { none, gzip, zstd };
Compression compression_of(const std::filesystem::path& file);
// The path without a compression extension ("a.jsonl.gz" -> "a.jsonl").
std::filesystem::path without_compression(const std::filesystem::path& file);

// Opens `file` by path; or reads `fd`, already open on it (a job's opens go through its path
// policy, io/path_policy.hpp), with `file` naming it in messages and choosing decompression.
std::unique_ptr<ByteSource> open_source(const std::filesystem::path& file);
std::unique_ptr<ByteSource> open_source(const std::filesystem::path& file, UniqueFd fd);

}  // namespace qkv::io
