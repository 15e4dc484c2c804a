// The files of one job's output: the main file the user named, its companions
// (X.idx.npy, X.offsets.npy, ...) and X.manifest.json, written last. Either all of them
// appear (fsynced, renamed into place, manifest last) or none: destroyed before commit(),
// every temporary file is removed and existing files are left untouched. All of them are
// created and renamed through one fd of the output's folder.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

#include "atomic_file.hpp"

namespace qkv::io {

class OutputSet {
 public:
  explicit OutputSet(std::filesystem::path main);
  // "out.bin" -> "out" + suffix; an unknown extension is kept ("out.data" -> "out.data.idx.npy").
  std::filesystem::path companion(std::string_view suffix) const;
  const std::filesystem::path& main() const { return main_; }
  AtomicFile& add(const std::filesystem::path& final_path);
  // Adds "outputs": [{path, bytes, sha256}] to `manifest`, commits every file, then writes
  // the manifest. Returns the final paths, manifest last.
  std::vector<std::filesystem::path> commit(nlohmann::json manifest);

  // After a crash: removes the temporary files a dead writer left for the output set of `main`
  // (its main file and companions). Returns how many; never throws.
  static std::size_t remove_stale_temps(const std::filesystem::path& main) noexcept;

 private:
  static std::filesystem::path stem_of(const std::filesystem::path& main);
  std::filesystem::path main_, stem_;
  std::shared_ptr<const Directory> dir_;
  std::vector<std::unique_ptr<AtomicFile>> files_;
};

}  // namespace qkv::io
