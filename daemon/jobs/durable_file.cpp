#include "jobs/durable_file.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

namespace qkv::jobs {
namespace {

[[noreturn]] void fail(const std::string& what, const fs::path& p, int err = errno) {
  throw std::system_error(err, std::generic_category(), what + " " + p.string());
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

fs::path unique_tmp(const fs::path& tmp_dir) {
  static std::atomic<unsigned long> counter{0};
  return tmp_dir / ("qkvd." + std::to_string(::getpid()) + "." +
                    std::to_string(counter.fetch_add(1)) + ".tmp");
}

// Writes and fsyncs a fresh temporary file; returns its path.
fs::path write_tmp(const fs::path& tmp_dir, std::string_view bytes) {
  fs::path tmp = unique_tmp(tmp_dir);
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
  if (fd.get() < 0) fail("cannot create", tmp);
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left) {
    ssize_t n = ::write(fd.get(), p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      fail("cannot write", tmp, err);
    }
    p += n;
    left -= std::size_t(n);
  }
  if (::fsync(fd.get()) != 0 || ::close(fd.release()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail("cannot fsync", tmp, err);
  }
  return tmp;
}

}  // namespace

void fsync_dir(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) fail("cannot open folder", dir);
  if (::fsync(fd.get()) != 0) fail("cannot fsync folder", dir);
}

bool rename_no_replace(const fs::path& from, const fs::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return true;
  if (errno == EEXIST || errno == ENOENT) return false;
  if (errno != EINVAL && errno != ENOSYS) fail("cannot rename to " + to.string() + ":", from);
  // File systems without RENAME_NOREPLACE: link fails on an existing target, as in Maildir.
  if (::link(from.c_str(), to.c_str()) != 0) {
    if (errno == EEXIST || errno == ENOENT) return false;
    fail("cannot link to " + to.string() + ":", from);
  }
  ::unlink(from.c_str());
  return true;
}

bool move_durable(const fs::path& from, const fs::path& to, bool replace) {
  if (replace) {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      if (errno == ENOENT) return false;
      fail("cannot rename to " + to.string() + ":", from);
    }
  } else if (!rename_no_replace(from, to)) {
    return false;
  }
  fsync_dir(to.parent_path());
  if (from.parent_path() != to.parent_path()) fsync_dir(from.parent_path());
  return true;
}

void write_durable(const fs::path& tmp_dir, const fs::path& dest, std::string_view bytes) {
  fs::path tmp = write_tmp(tmp_dir, bytes);
  if (::rename(tmp.c_str(), dest.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail("cannot rename into", dest, err);
  }
  fsync_dir(dest.parent_path());
}

bool write_durable_new(const fs::path& tmp_dir, const fs::path& dest, std::string_view bytes) {
  fs::path tmp = write_tmp(tmp_dir, bytes);
  bool ok = false;
  try {
    ok = rename_no_replace(tmp, dest);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return false;
  }
  fsync_dir(dest.parent_path());
  return true;
}

std::string read_file(const fs::path& path, std::size_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) fail("cannot open", path);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot read", path);
    if (n == 0) break;
    out.append(buf, std::size_t(n));
    if (out.size() > max_bytes) fail("file too large:", path, EFBIG);
  }
  return out;
}

}  // namespace qkv::jobs
