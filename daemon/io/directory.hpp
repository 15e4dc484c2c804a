// A folder held open as a file descriptor, and the crash-safe operations done through it: every
// create, rename, read and unlink is relative to the folder's fd (openat/renameat/unlinkat), so a
// path checked once cannot be swapped for a symlink before the file is opened. Today a Directory
// is opened by path; the path policy (io/path_policy.hpp) can hand in an fd it opened beneath a
// verified root instead (Directory(UniqueFd, path)).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace qkv::io {

// An owned file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  ~UniqueFd() { reset(); }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept;
  void reset() noexcept;

 private:
  int fd_ = -1;
};

class Directory {
 public:
  // Opens the folder `path` (an empty path is "."). Throws IoError naming it.
  static Directory open(const std::filesystem::path& path);
  // Adopts an fd already open on a folder; `path` only names it in messages.
  Directory(UniqueFd fd, std::filesystem::path path) noexcept;

  int fd() const noexcept { return fd_.get(); }
  const std::filesystem::path& path() const noexcept { return path_; }
  // The path of an entry, for messages and for callers that still need one.
  std::filesystem::path path_of(std::string_view name) const { return path_ / name; }

  // Makes renames and creations in this folder durable. The one directory-fsync policy: a
  // failure throws IoError naming the folder, because a rename that may not survive a crash
  // must not be reported as done (a job would say "written" and lose the file). EINVAL and
  // ENOTSUP mean the filesystem has no folder sync at all (some FUSE and network ones): there
  // is nothing more to do, so they pass. Opening the folder is no longer best effort either:
  // every file operation needs the fd anyway.
  void sync() const;

  // Whether `name` exists (any type; a symlink is not followed).
  bool contains(std::string_view name) const noexcept;
  // unlinkat; false when it was not there or could not be removed. Never throws.
  bool remove(std::string_view name) const noexcept;
  // The whole file, refusing a symlink and anything over `max_bytes`. Throws IoError.
  std::string read_file(std::string_view name, std::size_t max_bytes) const;

 private:
  UniqueFd fd_;
  std::filesystem::path path_;
};

enum class Replace { no, yes };

// Renames `from_dir/from` to `to_dir/to`, then fsyncs `to_dir` (and `from_dir` when it is a
// different folder, so the old name is gone durably too). Returns false when `from` has vanished
// (another consumer took it) or, with Replace::no, when `to` already exists; never replaces then
// (renameat2 RENAME_NOREPLACE, or link+unlink on filesystems without it, as in Maildir). Other
// failures throw IoError naming both paths.
bool move_durably(const Directory& from_dir, std::string_view from, const Directory& to_dir,
                  std::string_view to, Replace replace);

// Throws IoError unless `name` is one path component (not empty, ".", ".." or containing '/'):
// everything in this module is relative to a folder fd, and a slash would escape that.
void require_entry_name(std::string_view name, const std::filesystem::path& dir);

}  // namespace qkv::io
