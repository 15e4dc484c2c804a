// The files of one job's output: the main file the user named, its companions
// (X.idx.npy, X.offsets.npy, ...) and X.manifest.json, written last. Either all of them
// appear (fsynced, renamed into place, manifest last) or none: destroyed before commit(),
// every temporary file is removed and existing files are left untouched. All of them are
// created and renamed through one fd of the output's folder, which a job gets from its path
// policy (io/path_policy.hpp) already checked; a replaced file keeps its mode bits and group.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "atomic_file.hpp"

namespace qkv::io {

class PathPolicy;

// Where an output set goes: its folder fd, the main file, the rule each file name of the set is
// held to, and whether existing files may be replaced.
struct OutputTarget {
  // Opens the folder of `main` by path, with no rules: tests and tools (jobs use
  // PathPolicy::open_output).
  OutputTarget(const std::filesystem::path& main);  // NOLINT: implicit on purpose
  OutputTarget(std::shared_ptr<const Directory> folder, std::filesystem::path main,
               std::function<void(std::string_view name)> check, bool replace)
      : folder(std::move(folder)),
        main(std::move(main)),
        check(std::move(check)),
        replace(replace) {}

  std::shared_ptr<const Directory> folder;
  std::filesystem::path main;
  std::function<void(std::string_view name)> check;  // throws PathError; empty: none
  bool replace = true;                               // false: commit never replaces (output_exists)
};

class OutputSet {
 public:
  explicit OutputSet(OutputTarget target);
  // "out.bin" -> "out" + suffix; an unknown extension is kept ("out.data" -> "out.data.idx.npy").
  std::filesystem::path companion(std::string_view suffix) const;
  const std::filesystem::path& main() const { return main_; }
  AtomicFile& add(const std::filesystem::path& final_path);
  // A companion this run does not write (e.g. OUT.ids.jsonl when no record had an id): commit
  // removes one an earlier run left, before the manifest appears, so the files beside a
  // manifest are the ones it lists. Never with OutputTarget::replace false (nothing is touched).
  void retire(const std::filesystem::path& final_path);
  // Adds "outputs": [{path, bytes, sha256}] to `manifest`, commits every file, then writes
  // the manifest. Returns the final paths, manifest last.
  std::vector<std::filesystem::path> commit(nlohmann::json manifest);

  // After a crash: removes the temporary files a dead writer left for the output set of `main`
  // (its main file and companions), in the folder `policy` opens (beneath its output root; no
  // policy: by path). Returns how many; never throws.
  static std::size_t remove_stale_temps(const std::filesystem::path& main,
                                        const PathPolicy* policy = nullptr) noexcept;

 private:
  static std::filesystem::path stem_of(const std::filesystem::path& main);
  void place(AtomicFile& f) const;  // commit, replacing or not as the target says
  OutputTarget target_;
  std::filesystem::path main_, stem_;
  std::shared_ptr<const Directory> dir_;
  std::vector<std::unique_ptr<AtomicFile>> files_;
  std::vector<std::string> retired_;
};

}  // namespace qkv::io
