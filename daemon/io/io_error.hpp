// Errors of reading and writing job files; the message names the file and the cause.
#pragma once

#include <stdexcept>
#include <string>

namespace qkv::io {

class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "PATH: WHAT: strerror(errno)" (e.g. "out.bin: write failed: No space left on device").
[[noreturn]] void throw_errno(const std::string& path, const std::string& what, int err);

}  // namespace qkv::io
