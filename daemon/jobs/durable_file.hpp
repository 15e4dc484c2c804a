// Small POSIX helpers for crash-safe files: write-fsync-rename, directory fsync, rename that
// never replaces. Every function throws std::system_error naming the path on failure.
#pragma once

#include <filesystem>
#include <string_view>

namespace qkv::jobs {

namespace fs = std::filesystem;

void fsync_dir(const fs::path& dir);
// Writes `bytes` to `tmp_dir/<unique>`, fsyncs it, renames it to `dest` (replacing it) and
// fsyncs dest's folder. A reader sees the old file or the whole new one, never a part.
void write_durable(const fs::path& tmp_dir, const fs::path& dest, std::string_view bytes);
// Like write_durable, but fails (returns false) when `dest` already exists.
bool write_durable_new(const fs::path& tmp_dir, const fs::path& dest, std::string_view bytes);
// rename(2) that fails with false instead of replacing an existing `to`, or when `from` is gone.
bool rename_no_replace(const fs::path& from, const fs::path& to);
// rename + fsync of both folders; false when `from` vanished (someone else claimed it).
bool move_durable(const fs::path& from, const fs::path& to, bool replace = false);
std::string read_file(const fs::path& path, std::size_t max_bytes);

}  // namespace qkv::jobs
