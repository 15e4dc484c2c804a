// Job paths must resolve, after every symlink, inside the configured roots. Relative paths,
// `..` that climbs out, and symlinks pointing out are refused (PathError "path_denied").
// Checked at submit today; the security issue moves the check to where each file is opened
// (through io/directory.hpp's folder fds).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io_error.hpp"

namespace qkv::io {

namespace fs = std::filesystem;

// A refused path, with the stable code a job error reports (docs/protocol.md): bad_request,
// not_found, path_denied or input_too_large.
class PathError : public IoError {
 public:
  PathError(std::string code, const std::string& message)
      : IoError(message), code_(std::move(code)) {}
  const std::string& code() const noexcept { return code_; }

 private:
  std::string code_;
};

struct PathRoots {
  std::vector<fs::path> input;
  std::vector<fs::path> output;
};

class PathPolicy {
 public:
  // Roots are resolved now; a root that does not exist is dropped (nothing can be inside it).
  // Outputs never go inside `no_output` (the spool), whatever the roots say.
  PathPolicy(const PathRoots& roots, uint64_t max_input_bytes,
             std::vector<fs::path> no_output = {});

  // Expands globs (sorted, per pattern), resolves every file and checks it is a regular file
  // inside an input root, and that the total size is within the limit. Returns resolved paths.
  std::vector<std::string> resolve_inputs(const std::vector<std::string>& inputs) const;
  // The output's folder must exist and resolve inside an output root; the name itself must
  // not be a symlink leading out. Returns <resolved folder>/<name>.
  std::string resolve_output(const std::string& output) const;

  const std::vector<fs::path>& input_roots() const noexcept { return input_; }
  const std::vector<fs::path>& output_roots() const noexcept { return output_; }

 private:
  std::vector<fs::path> input_, output_, no_output_;
  uint64_t max_input_bytes_;
};

// Throws PathError "bad_request" when `output` is the same file as one of `inputs` (resolved
// paths, as returned by PathPolicy): the job would replace what it is reading.
void refuse_output_onto_inputs(const std::string& output, const std::vector<std::string>& inputs);

// True when `p` (resolved) is `root` or below it.
bool is_within(const fs::path& p, const fs::path& root);

}  // namespace qkv::io
