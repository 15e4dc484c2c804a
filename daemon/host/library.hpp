// One loaded shared library (Boost.DLL behind this wrapper only), kept mapped while any
// plugin or instance from it lives.
#pragma once

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace qkv::host {

enum class LoadMode {
  in_place,      // dlopen the file itself
  private_copy,  // copy to a private temp file first: a file replaced on disk loads as a new
                 // image (dlopen hands back the already-loaded image for a known path)
};

// Where private copies are made: in <parent>/<prefix><pid>/, one folder per process, so a
// process killed between copying and loading (kill -9 during a reload) leaves its copies where
// the next start finds them. The daemon uses <spool>/plugin-copies/<pid>/; the default is
// $TMPDIR/qkv-<pid>/. Setting the place removes the folders of that scheme whose pid runs no
// process (and this pid's own, left by an earlier process of the same pid); never a live
// process's. Returns how many were removed.
std::size_t set_private_copy_place(const std::filesystem::path& parent, const std::string& prefix);

// Why a library could not be opened (the dynamic loader's own words).
class LibraryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Library {
 public:
  // Opens with RTLD_NOW | RTLD_LOCAL (never DEEPBIND): unresolved symbols fail here.
  static std::shared_ptr<Library> open(const std::filesystem::path& file, LoadMode mode);

  struct Key {
    explicit Key() = default;
  };
  struct Impl;
  Library(Key, std::filesystem::path file, std::unique_ptr<Impl> impl);  // use open()
  ~Library();
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;

  // Address of an exported symbol, or nullptr.
  void* symbol(const char* name) const noexcept;
  const std::filesystem::path& file() const noexcept { return file_; }

 private:
  std::filesystem::path file_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qkv::host
