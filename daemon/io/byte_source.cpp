#include "byte_source.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "directory.hpp"
#include "io_error.hpp"

namespace qkv::io {
namespace fs = std::filesystem;

void throw_errno(const std::string& path, const std::string& what, int err) {
  throw IoError(path + ": " + what + ": " + std::strerror(err));
}

namespace {

// Throws unless the file starts with `magic`: gzopen reads any other bytes as they are, and a
// .gz or .zst that is not one must fail naming the file, not pass garbage on as text. pread
// leaves the file offset where the decompressor starts.
void require_magic(int fd, const std::string& path, std::string_view magic, const char* format) {
  char head[8] = {};
  size_t got = 0;
  while (got < magic.size()) {
    ssize_t n = ::pread(fd, head + got, magic.size() - got, off_t(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno(path, "read failed", errno);
    if (n == 0) break;
    got += size_t(n);
  }
  if (std::string_view(head, got) != magic)
    throw IoError(path + ": not " + format + " data (the file does not start with the " + format +
                  " magic bytes)");
}

class Fd {
 public:
  Fd(UniqueFd fd, const fs::path& file) : path_(file.string()), fd_(std::move(fd)) {}
  size_t read(char* buf, size_t n) {
    while (true) {
      ssize_t got = ::read(fd_.get(), buf, n);
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) throw_errno(path_, "read failed", errno);
    }
  }
  const std::string& path() const { return path_; }
  // A regular file never makes read() wait; anything else (a pipe) is polled.
  bool ready(int wait_ms) const {
    struct stat st {};
    if (::fstat(fd_.get(), &st) == 0 && S_ISREG(st.st_mode)) return true;
    pollfd p{fd_.get(), POLLIN, 0};
    int n;
    while ((n = ::poll(&p, 1, wait_ms)) < 0 && errno == EINTR) {
    }
    return n != 0;  // readable, its end, or an error read() will report
  }

 private:
  std::string path_;
  UniqueFd fd_;
};

class PlainSource final : public ByteSource {
 public:
  PlainSource(UniqueFd fd, const fs::path& file) : fd_(std::move(fd), file) {}
  size_t read(char* buf, size_t n) override { return fd_.read(buf, n); }
  bool ready(int wait_ms) const override { return fd_.ready(wait_ms); }

 private:
  Fd fd_;
};

class GzipSource final : public ByteSource {
 public:
  GzipSource(UniqueFd fd, const fs::path& file) : path_(file.string()) {
    gz_ = gzdopen(fd.get(), "rb");
    if (!gz_) throw_errno(path_, "cannot open", errno ? errno : ENOMEM);
    fd.release();  // gzclose closes it
    gzbuffer(gz_, 1 << 17);
  }
  ~GzipSource() override { gzclose(gz_); }
  size_t read(char* buf, size_t n) override {
    int got = gzread(gz_, buf, static_cast<unsigned>(std::min<size_t>(n, 1u << 30)));
    int errnum = Z_OK;
    const char* msg = gzerror(gz_, &errnum);
    // gzread reports a truncated or corrupt stream as an early end; gzerror tells them apart.
    if (got < 0 || (got == 0 && errnum != Z_OK && errnum != Z_STREAM_END))
      throw IoError(path_ +
                    ": gzip data is corrupt or truncated: " + (msg && *msg ? msg : "read error"));
    return static_cast<size_t>(got);
  }

 private:
  std::string path_;
  gzFile gz_ = nullptr;
};

class ZstdSource final : public ByteSource {
 public:
  ZstdSource(UniqueFd fd, const fs::path& file)
      : fd_(std::move(fd), file), in_(ZSTD_DStreamInSize()) {
    ctx_ = ZSTD_createDCtx();
    if (!ctx_) throw IoError(fd_.path() + ": cannot create a zstd context");
  }
  ~ZstdSource() override { ZSTD_freeDCtx(ctx_); }
  size_t read(char* buf, size_t n) override {
    ZSTD_outBuffer out{buf, n, 0};
    while (out.pos == 0) {
      if (input_.pos == input_.size) {
        size_t got = fd_.read(in_.data(), in_.size());
        if (got == 0) {
          if (frame_open_) throw IoError(fd_.path() + ": zstd data is truncated");
          return 0;
        }
        input_ = {in_.data(), got, 0};
      }
      size_t rc = ZSTD_decompressStream(ctx_, &out, &input_);
      if (ZSTD_isError(rc))
        throw IoError(fd_.path() + ": zstd data is corrupt: " + ZSTD_getErrorName(rc));
      frame_open_ = rc != 0;
    }
    return out.pos;
  }

 private:
  Fd fd_;
  std::vector<char> in_;
  ZSTD_inBuffer input_{nullptr, 0, 0};
  ZSTD_DCtx* ctx_ = nullptr;
  bool frame_open_ = false;
};

}  // namespace

Compression compression_of(const fs::path& file) {
  const auto ext = file.extension();
  if (ext == ".gz") return Compression::gzip;
  if (ext == ".zst") return Compression::zstd;
  return Compression::none;
}

fs::path without_compression(const fs::path& file) {
  return compression_of(file) == Compression::none ? file : fs::path(file).replace_extension();
}

std::unique_ptr<ByteSource> open_source(const fs::path& file) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_errno(file.string(), "cannot open", errno);
  return open_source(file, std::move(fd));
}

std::unique_ptr<ByteSource> open_source(const fs::path& file, UniqueFd fd) {
  switch (compression_of(file)) {
    case Compression::gzip:
      require_magic(fd.get(), file.string(), "\x1f\x8b", "gzip");
      return std::make_unique<GzipSource>(std::move(fd), file);
    case Compression::zstd:
      require_magic(fd.get(), file.string(), "\x28\xb5\x2f\xfd", "zstd");
      return std::make_unique<ZstdSource>(std::move(fd), file);
    case Compression::none:
      break;
  }
  return std::make_unique<PlainSource>(std::move(fd), file);
}

}  // namespace qkv::io
