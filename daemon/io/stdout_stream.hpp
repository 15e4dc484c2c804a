// `qkvd run -o -`: output written to the process's stdout as it is produced, each write
// whole (a full-write loop, no buffering), so every finished chunk is seen at once.
#pragma once

#include <string_view>

#include "io_error.hpp"

namespace qkv::io {

// The reader of stdout went away (EPIPE: `| head`). Not a failure of the job: `qkvd run` exits
// quietly with 141, as a program killed by SIGPIPE would tell its shell. Needs SIGPIPE ignored.
class StreamClosed : public IoError {
 public:
  StreamClosed() : IoError("stdout was closed") {}
};

// Writes all of `bytes` to fd 1. Throws StreamClosed on EPIPE, IoError on another error.
void write_stdout(std::string_view bytes);

}  // namespace qkv::io
