// Opening a file beneath a verified root folder fd, never through a symlink and never above the
// root: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) when the kernel has it, otherwise (ENOSYS,
// or EPERM from a seccomp filter) one openat(O_NOFOLLOW) per path component. A path checked once
// therefore cannot be swapped for a symlink before it is opened (issue 10 item 2).
#pragma once

#include <sys/types.h>

#include <string_view>

#include "directory.hpp"

namespace qkv::io {

// Opens `relative` (components separated by '/', no leading '/', no "..") beneath `root`.
// `flags` are open(2) flags (O_CREAT allowed for the last component). A symlink anywhere, a
// ".." or an absolute path throws PathError "path_denied"; other failures throw IoError naming
// the path.
UniqueFd open_beneath(const Directory& root, std::string_view relative, int flags, mode_t mode = 0);

// Tests force the per-component fallback (true) or restore automatic choice (false).
void force_open_beneath_fallback_for_testing(bool on);

}  // namespace qkv::io
