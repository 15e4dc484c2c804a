// Bounds-checked reading and plain appending of a vocabulary image's payload (every plugin's
// images: tokenizer-bpe, tokenizer-wordpiece). The payload is
// untrusted bytes (a file in a cache folder): every read checks what is left and throws
// ImageError instead of reading past the end. Sections are 8-byte padded so tables can be
// copied in whole.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace qkv::image {

class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ImageWriter {
 public:
  template <class T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  template <class T>
  void put_array(const T* p, size_t n) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(p), n * sizeof(T));
    out_.append((8 - out_.size() % 8) % 8, '\0');
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class ImageReader {
 public:
  explicit ImageReader(std::string_view bytes) : bytes_(bytes) {}
  template <class T>
  T get() {
    T v;
    copy(&v, 1);
    return v;
  }
  // Copies n items into dst (which has room for them), then skips the section's padding.
  template <class T>
  void get_array(T* dst, size_t n) {
    copy(dst, n);
    skip((8 - pos_ % 8) % 8);
  }
  // The next n bytes in place (valid while the payload is), then the padding.
  std::string_view get_bytes(size_t n) {
    need(n);
    auto v = bytes_.substr(pos_, n);
    pos_ += n;
    skip((8 - pos_ % 8) % 8);
    return v;
  }
  bool at_end() const noexcept { return pos_ == bytes_.size(); }
  // Bytes not read yet: a count read from the payload is checked against it before anything
  // of that size is allocated.
  size_t left() const noexcept { return bytes_.size() - pos_; }

 private:
  template <class T>
  void copy(T* dst, size_t n) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (n > (bytes_.size() - pos_) / sizeof(T)) throw ImageError("image truncated");
    if (n) std::memcpy(static_cast<void*>(dst), bytes_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
  }
  void need(size_t n) const {
    if (n > bytes_.size() - pos_) throw ImageError("image truncated");
  }
  void skip(size_t n) {
    need(n);
    pos_ += n;
  }
  std::string_view bytes_;
  size_t pos_ = 0;
};

// An image's checksum: 64-bit, four independent lanes so it runs near memory speed. It detects
// truncation and corruption; it is no defence against a forger (the cache folder is the
// daemon's own, and every field is bounds-checked on load anyway).
uint64_t image_checksum(std::string_view bytes) noexcept;

}  // namespace qkv::image
