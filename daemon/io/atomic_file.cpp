#include "atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include "io_error.hpp"

namespace qkv::io {
namespace fs = std::filesystem;

namespace {
std::atomic<WriteFunction> g_write{nullptr};

ssize_t do_write(int fd, const void* buf, size_t n) {
  WriteFunction fn = g_write.load(std::memory_order_relaxed);
  return fn ? fn(fd, buf, n) : ::write(fd, buf, n);
}

fs::path temp_name_for(const fs::path& final_path) {
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  char suffix[64];
  std::snprintf(suffix, sizeof suffix, ".tmp-%d-%llu-%08x", static_cast<int>(::getpid()),
                static_cast<unsigned long long>(counter.fetch_add(1)), rd());
  std::string name = ".";
  name += final_path.filename().string();
  name += suffix;
  return final_path.parent_path() / name;
}
}  // namespace

void set_write_function_for_testing(WriteFunction fn) { g_write.store(fn); }

void sync_directory(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: some filesystems refuse to open folders
  ::fsync(fd);
  ::close(fd);
}

AtomicFile::AtomicFile(fs::path final_path, size_t buffer_bytes)
    : final_(std::move(final_path)), temp_(temp_name_for(final_)), buf_(buffer_bytes) {
  std::error_code ec;
  if (fs::is_directory(final_, ec)) throw IoError(final_.string() + ": output path is a folder");
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_errno(temp_.string(), "cannot create output file", errno);
}

AtomicFile::~AtomicFile() {
  if (!committed_) discard();
}

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFile::flush() {
  size_t done = 0;
  while (done < used_) {
    ssize_t n = do_write(fd_, buf_.data() + done, used_ - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(final_.string(), "write failed", errno);
    }
    if (n == 0) throw_errno(final_.string(), "write failed", ENOSPC);
    done += static_cast<size_t>(n);
  }
  used_ = 0;
}

void AtomicFile::write(std::string_view bytes) {
  if (fd_ < 0) throw IoError(final_.string() + ": write after close");
  size_ += bytes.size();
  if (bytes.size() > buf_.size() - used_) {
    flush();
    if (bytes.size() >= buf_.size()) {
      const char* p = bytes.data();
      size_t left = bytes.size();
      while (left) {
        ssize_t n = do_write(fd_, p, left);
        if (n < 0) {
          if (errno == EINTR) continue;
          throw_errno(final_.string(), "write failed", errno);
        }
        if (n == 0) throw_errno(final_.string(), "write failed", ENOSPC);
        p += n;
        left -= static_cast<size_t>(n);
      }
      return;
    }
  }
  std::memcpy(buf_.data() + used_, bytes.data(), bytes.size());
  used_ += bytes.size();
}

void AtomicFile::write_at(uint64_t offset, std::string_view bytes) {
  flush();
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n =
        ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(final_.string(), "write failed", errno);
    }
    done += static_cast<size_t>(n);
  }
}

void AtomicFile::sync() {
  if (synced_) return;
  flush();
  if (::fsync(fd_) != 0) throw_errno(final_.string(), "fsync failed", errno);
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw_errno(final_.string(), "close failed", errno);
  }
  fd_ = -1;
  synced_ = true;
}

void AtomicFile::commit() {
  sync();
  if (::rename(temp_.c_str(), final_.c_str()) != 0)
    throw_errno(final_.string(), "cannot rename into place", errno);
  committed_ = true;
  sync_directory(final_.parent_path());
}

}  // namespace qkv::io
