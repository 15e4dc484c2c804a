// Folder fds and the rename/fsync/read operations done through them (see directory.hpp).
#include "directory.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "io_error.hpp"

namespace qkv::io {
namespace fs = std::filesystem;

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    reset();
    fd_ = o.release();
  }
  return *this;
}

int UniqueFd::release() noexcept { return std::exchange(fd_, -1); }

void UniqueFd::reset() noexcept {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

void require_entry_name(std::string_view name, const fs::path& dir) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos)
    throw IoError((dir / name).string() + ": not a file name inside " + dir.string());
}

Directory Directory::open(const fs::path& path) {
  const fs::path shown = path.empty() ? fs::path(".") : path;
  UniqueFd fd(::open(shown.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw_errno(shown.string(), "cannot open folder", errno);
  return Directory(std::move(fd), shown);
}

Directory::Directory(UniqueFd fd, fs::path path) noexcept
    : fd_(std::move(fd)), path_(std::move(path)) {}

void Directory::sync() const {
  if (::fsync(fd()) == 0 || errno == EINVAL || errno == ENOTSUP) return;
  throw_errno(path_.string(), "cannot fsync folder", errno);
}

bool Directory::contains(std::string_view name) const noexcept {
  struct stat st {};
  return ::fstatat(fd(), std::string(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

bool Directory::remove(std::string_view name) const noexcept {
  return ::unlinkat(fd(), std::string(name).c_str(), 0) == 0;
}

std::string Directory::read_file(std::string_view name, std::size_t max_bytes) const {
  require_entry_name(name, path_);
  const std::string shown = path_of(name).string();
  UniqueFd file(::openat(fd(), std::string(name).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!file) throw_errno(shown, "cannot open", errno);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(file.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno(shown, "cannot read", errno);
    if (n == 0) break;
    out.append(buf, std::size_t(n));
    if (out.size() > max_bytes)
      throw IoError(shown + ": file too large (over " + std::to_string(max_bytes) + " bytes)");
  }
  return out;
}

namespace {

// renameat2(RENAME_NOREPLACE); link+unlink where the filesystem lacks it.
bool rename_no_replace(const Directory& from_dir, const std::string& from, const Directory& to_dir,
                       const std::string& to) {
  if (::renameat2(from_dir.fd(), from.c_str(), to_dir.fd(), to.c_str(), RENAME_NOREPLACE) == 0)
    return true;
  if (errno == EEXIST || errno == ENOENT) return false;
  if (errno != EINVAL && errno != ENOSYS)
    throw_errno(from_dir.path_of(from).string(), "cannot rename to " + to_dir.path_of(to).string(),
                errno);
  if (::linkat(from_dir.fd(), from.c_str(), to_dir.fd(), to.c_str(), 0) != 0) {
    if (errno == EEXIST || errno == ENOENT) return false;
    throw_errno(from_dir.path_of(from).string(), "cannot link to " + to_dir.path_of(to).string(),
                errno);
  }
  ::unlinkat(from_dir.fd(), from.c_str(), 0);
  return true;
}

bool same_folder(const Directory& a, const Directory& b) {
  struct stat sa {
  }, sb{};
  return ::fstat(a.fd(), &sa) == 0 && ::fstat(b.fd(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

}  // namespace

bool move_durably(const Directory& from_dir, std::string_view from, const Directory& to_dir,
                  std::string_view to, Replace replace) {
  require_entry_name(from, from_dir.path());
  require_entry_name(to, to_dir.path());
  const std::string f(from), t(to);
  if (replace == Replace::yes) {
    if (::renameat(from_dir.fd(), f.c_str(), to_dir.fd(), t.c_str()) != 0) {
      if (errno == ENOENT) return false;
      throw_errno(from_dir.path_of(f).string(), "cannot rename to " + to_dir.path_of(t).string(),
                  errno);
    }
  } else if (!rename_no_replace(from_dir, f, to_dir, t)) {
    return false;
  }
  to_dir.sync();
  if (!same_folder(from_dir, to_dir)) from_dir.sync();
  return true;
}

}  // namespace qkv::io
