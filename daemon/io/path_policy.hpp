// The one path policy for every file a job names (issue 10 items 2 and 3): which paths a daemon
// client may name (inside the configured roots, after every symlink), and how a job opens them
// (beneath a verified root folder fd, io/open_beneath.hpp, so a path checked at submit cannot be
// swapped for a symlink before the run), with the output rules. `qkvd run` uses an unrestricted
// policy: no roots (the invoking user's own rights), the same fd-based opens and output rules.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "directory.hpp"
#include "io_error.hpp"

namespace qkv::io {

namespace fs = std::filesystem;

struct OutputTarget;

// A refused path, with the stable code a job error reports (docs/protocol.md): bad_request,
// not_found, path_denied, output_exists or input_too_large.
class PathError : public IoError {
 public:
  PathError(std::string code, const std::string& message)
      : IoError(message), code_(std::move(code)) {}
  const std::string& code() const noexcept { return code_; }

 private:
  std::string code_;
};

// The daemon config's roots.* lists; an empty list refuses every client path of its kind.
struct PathRoots {
  std::vector<fs::path> input;
  std::vector<fs::path> output;
  std::vector<fs::path> models;  // read-only assets (vocabularies, model folders)
};

// What no output may replace or go inside, whatever the roots say (a root may contain them).
struct ProtectedPaths {
  std::vector<fs::path> folders;  // the spool, pipelines_dir
  std::vector<fs::path> files;    // the socket, the daemon config
};

class PathPolicy {
 public:
  // Roots are resolved and opened now; a root that does not exist is dropped (nothing can be
  // inside it). The folder fds are what every later open is checked beneath.
  PathPolicy(const PathRoots& roots, uint64_t max_input_bytes, ProtectedPaths keep = {});
  // `qkvd run`: no roots, files opened by path with the user's own rights; output rules apply.
  static PathPolicy unrestricted(ProtectedPaths keep = {});

  // False for unrestricted(): client paths are not checked against roots.
  bool restricted() const noexcept { return restricted_; }

  // ---- At submit (clear errors before a job is accepted) ----
  // Expands globs (sorted, per pattern), resolves every file and checks it is a regular file
  // inside an input root, and that the total size is within the limit. Returns resolved paths.
  std::vector<std::string> resolve_inputs(const std::vector<std::string>& inputs) const;
  // The output's folder must exist and resolve inside an output root; the name itself must
  // not be a symlink leading out. Returns <resolved folder>/<name>.
  std::string resolve_output(const std::string& output) const;
  // A client-given asset path (a `set` value or a value of an untrusted pipeline: vocabulary
  // files, model folders): relative to `base`, it must resolve inside roots.models or
  // roots.input. `what` names the key in messages. Returns the resolved path.
  std::string resolve_asset(const std::string& value, const fs::path& base,
                            const std::string& what) const;
  // A pipeline named by path: a regular file inside roots.input. Returns the resolved path.
  std::string resolve_pipeline_file(const std::string& path) const;

  // ---- Where opened (the run) ----
  // Opens an input for reading: beneath the input root holding the (resolved) path, refusing
  // any symlink on the way. Throws PathError (path_denied, not_found) or IoError.
  UniqueFd open_input(const fs::path& file) const;
  // Opens a client asset resolve_asset() returned (a file, or a folder when `folder`), beneath
  // the roots.models or roots.input root holding it, refusing any symlink on the way: the fd
  // pins what was checked, so a folder swapped for a symlink afterwards changes nothing.
  UniqueFd open_asset(const fs::path& resolved, bool folder) const;
  // Opens the folder of `output` beneath its output root and checks the output rules for the
  // main file; every further file of the set is checked through OutputTarget::check. `inputs`
  // are the job's input files (an output may not be one of them). `replace` false:
  // an existing output is refused with output_exists (and never replaced at commit).
  OutputTarget open_output(const fs::path& output, std::span<const fs::path> inputs,
                           bool replace) const;

  // An output folder (absolute, as resolve_output returned it), opened beneath its output root
  // (restricted) or by path: for cleaning up after a dead writer without following a folder a
  // client swapped for a symlink since. Throws PathError or IoError.
  std::shared_ptr<const Directory> open_output_folder(const fs::path& folder) const;

  const std::vector<fs::path>& input_roots() const noexcept { return input_.paths; }
  const std::vector<fs::path>& output_roots() const noexcept { return output_.paths; }

 private:
  struct Roots {
    std::string key;  // "roots.input", for messages
    std::vector<fs::path> paths;
    std::vector<std::shared_ptr<const Directory>> dirs;  // parallel to paths
  };
  PathPolicy() = default;
  static Roots open_roots(std::string key, const std::vector<fs::path>& roots);
  // The folder fd of `folder` (absolute) beneath the root of `roots` that holds it.
  std::shared_ptr<const Directory> open_folder_beneath(const Roots& roots,
                                                       const fs::path& folder) const;

  bool restricted_ = true;
  Roots input_, output_, models_;
  ProtectedPaths keep_;
  uint64_t max_input_bytes_ = 0;
};

// Throws PathError "bad_request" when `output` is the same file as one of `inputs` (resolved
// paths, as returned by PathPolicy): the job would replace what it is reading.
void refuse_output_onto_inputs(const std::string& output, const std::vector<std::string>& inputs);

// Throws PathError "path_denied" unless `file` and its folder are writable by their owner only:
// a pipeline in pipelines_dir is trusted as the daemon's own configuration only then.
void require_trusted_file(const fs::path& file, const std::string& what);

// True when `p` (resolved) is `root` or below it.
bool is_within(const fs::path& p, const fs::path& root);

}  // namespace qkv::io
