// An output file that appears under its final name only when complete: bytes go to a
// temporary file in the same folder, which commit() fsyncs and renames into place. Destroyed
// without commit (failure, cancel), the temporary file is removed and any existing file of
// the final name is left as it was.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::io {

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path final_path, size_t buffer_bytes = 1 << 20);
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
  // sync() if needed, then renames onto the final name and fsyncs the folder.
  void commit();
  // Removes the temporary file now (also done by the destructor).
  void discard() noexcept;

  const std::filesystem::path& final_path() const { return final_; }
  const std::filesystem::path& temp_path() const { return temp_; }
  bool committed() const { return committed_; }

 private:
  void flush();
  std::filesystem::path final_, temp_;
  std::vector<char> buf_;
  size_t used_ = 0;
  uint64_t size_ = 0;
  int fd_ = -1;
  bool synced_ = false, committed_ = false;
};

// Tests replace the write system call to simulate a full disk; nullptr restores ::write.
using WriteFunction = ssize_t (*)(int fd, const void* buf, size_t n);
void set_write_function_for_testing(WriteFunction fn);

// fsyncs a folder so that a rename in it is durable.
void sync_directory(const std::filesystem::path& dir);

}  // namespace qkv::io
