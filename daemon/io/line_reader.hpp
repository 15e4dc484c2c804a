// Splits a byte stream into LF-terminated lines (a CR before the LF stays in the line).
// A final line without LF counts; a file ending in LF has no empty last line.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "byte_buffer.hpp"
#include "byte_source.hpp"
#include "io_error.hpp"

namespace qkv::io {

// A line longer than the reader's max_line_bytes: thrown as soon as it passes the limit, so
// no more than the limit (plus one read) is ever held. `offset` is where the line starts.
class LineTooLong : public IoError {
 public:
  LineTooLong(uint64_t offset, uint64_t limit)
      : IoError("a line longer than " + std::to_string(limit) + " bytes"), offset(offset) {}
  uint64_t offset;
};

class LineReader {
 public:
  // max_line_bytes 0: no limit.
  explicit LineReader(std::unique_ptr<ByteSource> source, size_t buffer_bytes = 1 << 20,
                      uint64_t max_line_bytes = 0);
  // Replaces `line` with the next line (without its LF); false at the end of the stream.
  // `offset` receives the byte offset of the line's first byte in the (decompressed) stream.
  // Throws LineTooLong (and IoError from the source).
  bool next(std::string& line, uint64_t& offset);
  uint64_t bytes_consumed() const { return consumed_; }
  // Whether next() would return without waiting on the source (longer than `wait_ms`): a whole
  // line is buffered, the stream has ended, or the source is ready.
  bool ready(int wait_ms = 0) const;

 private:
  bool fill();
  std::unique_ptr<ByteSource> source_;
  ByteBuffer buf_;  // uninitialised: only the pages that reads fill are touched
  size_t begin_ = 0, end_ = 0;
  uint64_t consumed_ = 0;  // stream offset of buf_[begin_]
  uint64_t max_line_ = 0;
  bool eof_ = false;
};

}  // namespace qkv::io
