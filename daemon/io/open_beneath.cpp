#include "open_beneath.hpp"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include "path_policy.hpp"

namespace qkv::io {
namespace {

// QKV_TEST_OPEN_BENEATH_FALLBACK set: the daemon tests run qkvd on the fallback path too.
std::atomic<bool> forced_fallback{std::getenv("QKV_TEST_OPEN_BENEATH_FALLBACK") != nullptr};

[[noreturn]] void denied(const Directory& root, std::string_view relative, const char* why) {
  throw PathError("path_denied", "'" + root.path_of(relative).string() + "' " + why);
}

std::vector<std::string_view> components(const Directory& root, std::string_view relative) {
  if (relative.empty() || relative.front() == '/') denied(root, relative, "is not relative");
  std::vector<std::string_view> parts;
  while (!relative.empty()) {
    auto slash = relative.find('/');
    auto part = relative.substr(0, slash);
    if (part == "..") denied(root, relative, "climbs out of its root with '..'");
    if (!part.empty() && part != ".") parts.push_back(part);
    relative = slash == std::string_view::npos ? std::string_view{} : relative.substr(slash + 1);
  }
  if (parts.empty()) denied(root, relative, "names no file");
  return parts;
}

// -1 with errno; ENOSYS/EPERM mean "use the fallback".
int try_openat2(int dirfd, const std::string& path, int flags, mode_t mode) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how));
}

}  // namespace

void force_open_beneath_fallback_for_testing(bool on) { forced_fallback = on; }

UniqueFd open_beneath(const Directory& root, std::string_view relative, int flags, mode_t mode) {
  const auto parts = components(root, relative);
  flags |= O_CLOEXEC;
  if (!forced_fallback) {
    std::string joined;
    for (auto p : parts) {
      if (!joined.empty()) joined.push_back('/');
      joined.append(p);
    }
    int fd = try_openat2(root.fd(), joined, flags, mode);
    if (fd >= 0) return UniqueFd(fd);
    const int err = errno;
    if (err == ELOOP || err == EXDEV) denied(root, relative, "passes through a symlink");
    if (err != ENOSYS && err != EPERM) throw_errno(root.path_of(relative).string(), "open", err);
  }
  // Fallback: walk one component at a time, refusing a symlink at every step.
  UniqueFd dir;
  int at = root.fd();
  for (size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    const std::string name(parts[i]);
    const int f = last ? (flags | O_NOFOLLOW) : (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int fd = ::openat(at, name.c_str(), f, mode);
    if (fd < 0) {
      const int err = errno;
      // O_NOFOLLOW on a symlink gives ELOOP (last) or ENOTDIR (with O_DIRECTORY).
      if (err == ELOOP) denied(root, relative, "passes through a symlink");
      if (err == ENOTDIR) {  // also the last one, when the caller asked for O_DIRECTORY
        struct stat st {};
        if (::fstatat(at, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
          denied(root, relative, "passes through a symlink");
      }
      throw_errno(root.path_of(relative).string(), "open", err);
    }
    if (last) return UniqueFd(fd);
    dir = UniqueFd(fd);
    at = dir.get();
  }
  denied(root, relative, "names no file");
}

}  // namespace qkv::io
