#include "line_reader.hpp"

#include <cstring>

namespace qkv::io {

LineReader::LineReader(std::unique_ptr<ByteSource> source, size_t buffer_bytes,
                       uint64_t max_line_bytes)
    : source_(std::move(source)), buf_(buffer_bytes), max_line_(max_line_bytes) {}

bool LineReader::fill() {
  if (eof_) return false;
  if (begin_ == end_) begin_ = end_ = 0;
  if (end_ == buf_.size()) {
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    } else {
      buf_.resize(buf_.size() * 2);
    }
  }
  size_t got = source_->read(buf_.data() + end_, buf_.size() - end_);
  if (got == 0) {
    eof_ = true;
    return false;
  }
  end_ += got;
  return true;
}

bool LineReader::ready(int wait_ms) const {
  if (eof_ || std::memchr(buf_.data() + begin_, '\n', end_ - begin_)) return true;
  return source_->ready(wait_ms);
}

bool LineReader::next(std::string& line, uint64_t& offset) {
  line.clear();
  offset = consumed_;
  while (true) {
    const char* start = buf_.data() + begin_;
    const void* lf = std::memchr(start, '\n', end_ - begin_);
    if (lf) {
      size_t len = static_cast<const char*>(lf) - start;
      if (max_line_ && line.size() + len > max_line_) throw LineTooLong(offset, max_line_);
      line.append(start, len);
      begin_ += len + 1;
      consumed_ += len + 1;
      return true;
    }
    // No LF yet: keep what we have and read more.
    if (max_line_ && line.size() + (end_ - begin_) > max_line_)
      throw LineTooLong(offset, max_line_);
    line.append(start, end_ - begin_);
    consumed_ += end_ - begin_;
    begin_ = end_ = 0;
    if (!fill()) return consumed_ > offset;
  }
}

}  // namespace qkv::io
