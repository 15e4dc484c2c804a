// A heap buffer of bytes left uninitialised: for I/O buffers that are written before they are
// read (a file's write buffer, a read chunk). A zero-filled std::vector<char> of 1 MiB costs a
// memset and a page fault per 4 KiB at creation, whether or not the bytes are ever used; this
// touches only the pages that I/O fills (most of `qkvd run`'s 1-document start-up buffers).
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>

namespace qkv::io {

class ByteBuffer {
 public:
  explicit ByteBuffer(size_t size) : data_(new char[size]), size_(size) {}
  char* data() noexcept { return data_.get(); }
  const char* data() const noexcept { return data_.get(); }
  size_t size() const noexcept { return size_; }
  // Changes the size to `size`, keeping the first min(size(), size) bytes; any new bytes are
  // left uninitialised, like the buffer's own.
  void resize(size_t size) {
    std::unique_ptr<char[]> grown(new char[size]);
    if (size_ > 0) std::memcpy(grown.get(), data_.get(), size_ < size ? size_ : size);
    data_ = std::move(grown);
    size_ = size;
  }

 private:
  std::unique_ptr<char[]> data_;  // new char[n]: default-initialised, i.e. not zeroed
  size_t size_;
};

}  // namespace qkv::io
