// The one crash-safe file writer, and the cleaner of the temporary names it leaves after a crash.
// A file appears under its final name only when complete: bytes go to a hidden temporary file
// (".<name>.tmp-<pid>-<nonce>-<n>"), which commit() fsyncs and renames into place, then fsyncs the
// folder. Destroyed without commit (failure, cancel), the temporary file is removed and any
// existing file of the final name is left as it was. Everything is done through folder fds
// (io/directory.hpp): the temporary file is created with openat and renamed with renameat.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "byte_buffer.hpp"
#include "directory.hpp"

namespace qkv::io {

class AtomicFile {
 public:
  static constexpr size_t kDefaultBuffer = 1 << 20;

  // Writes `final_path`, with its temporary file next to it (opens the parent folder).
  explicit AtomicFile(std::filesystem::path final_path, size_t buffer_bytes = kDefaultBuffer);
  // Writes `final_dir/name`, with the temporary file in `temp_dir` (the same folder, or one on
  // the same filesystem such as a spool's tmp/). `mode` is the new file's mode (before umask).
  AtomicFile(std::shared_ptr<const Directory> temp_dir, std::shared_ptr<const Directory> final_dir,
             std::string name, mode_t mode = 0644, size_t buffer_bytes = kDefaultBuffer);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::string_view bytes);
  void write(std::span<const std::byte> bytes) {
    write(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }
  // Overwrites already written bytes (e.g. a header whose values are known only at the end).
  void write_at(uint64_t offset, std::string_view bytes);
  uint64_t size() const { return size_; }

  // Flushes and fsyncs the temporary file (step 1 of committing several files together).
  void sync();
  // Reads the synced temporary file back in chunks (e.g. to checksum it before commit).
  void read_back(const std::function<void(std::string_view)>& sink) const;
  // sync() if needed, then renames onto the final name (replacing it) and fsyncs the folder.
  void commit();
  // Like commit(), but never replaces: false (and the temporary file removed) when the final
  // name already exists.
  bool commit_new();
  // When the final name is an existing regular file, gives the temporary file its permission
  // bits (not set-id or sticky) and group, so replacing a 0600 file does not publish it
  // (issue 10 item 3). A group the process may not give is left as it is.
  void keep_mode_and_group();
  // Removes the temporary file now (also done by the destructor).
  void discard() noexcept;

  const std::filesystem::path& final_path() const { return final_; }
  std::filesystem::path temp_path() const { return temp_dir_->path_of(temp_name_); }
  bool committed() const { return committed_; }

 private:
  AtomicFile(std::shared_ptr<const Directory> dir, std::string name, size_t buffer_bytes);
  void flush();
  void write_all(const char* p, size_t n);
  bool rename_into_place(Replace replace);
  std::shared_ptr<const Directory> temp_dir_, final_dir_;
  std::string name_, temp_name_;
  std::filesystem::path final_;  // for messages
  ByteBuffer buf_;               // uninitialised: only what is written is touched
  size_t used_ = 0;
  uint64_t size_ = 0;
  UniqueFd fd_;
  bool synced_ = false, committed_ = false;
};

// Removes the temporary files of AtomicFile in `dir` whose final name satisfies `owned` and whose
// writer is gone: its pid runs no process, or it is this process's pid but an earlier run's nonce
// (after a crash a restarted daemon can get the same pid, e.g. pid 1 in a container). Only names
// of exactly this scheme are touched, never a user's file that merely looks similar. Returns how
// many were removed; never throws.
std::size_t remove_stale_temps(const Directory& dir,
                               const std::function<bool(std::string_view final_name)>& owned);

// Tests replace the write system call to simulate a full disk; nullptr restores ::write.
using WriteFunction = ssize_t (*)(int fd, const void* buf, size_t n);
void set_write_function_for_testing(WriteFunction fn);

}  // namespace qkv::io
