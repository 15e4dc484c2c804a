#include "path_policy.hpp"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>

#include "open_beneath.hpp"
#include "output_set.hpp"

namespace qkv::io {
namespace {

bool inside_any(const fs::path& p, const std::vector<fs::path>& roots) {
  return std::any_of(roots.begin(), roots.end(), [&](auto& r) { return is_within(p, r); });
}

// "the input roots (roots.input: /a, /b)"; an empty list says every client path is refused.
std::string roots_text(const std::string& key, const std::vector<fs::path>& roots) {
  std::string s;
  for (auto& r : roots) s += (s.empty() ? "" : ", ") + r.string();
  if (s.empty()) return key + " is empty or not set, so every client path of this kind is refused";
  return key + ": " + s;
}

// The canonical form of `p` (`ec` set when it does not exist); for a missing path, the part that
// exists resolved and the rest normalised, so a missing file outside the roots is refused as
// path_denied, never reported as not found.
fs::path resolved_or_normal(const fs::path& p, std::error_code& ec) {
  fs::path real = fs::canonical(p, ec);
  if (!ec) return real;
  std::error_code weak;
  real = fs::weakly_canonical(p, weak);
  return weak ? p.lexically_normal() : real;
}

struct FileId {
  dev_t dev;
  ino_t ino;
  bool operator==(const FileId&) const = default;
};

FileId id_of(const struct stat& st) { return FileId{st.st_dev, st.st_ino}; }
std::optional<FileId> id_of_path(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return std::nullopt;
  return id_of(st);
}

void require_absolute(const std::string& p, const char* what) {
  if (p.empty() || p[0] != '/')
    throw PathError("bad_request", std::string(what) + " '" + p +
                                       "' must be an absolute path (qkvctl makes paths absolute)");
  if (p.find('\0') != std::string::npos)
    throw PathError("bad_request", std::string(what) + " contains a NUL byte");
}

bool has_glob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

// The pipeline run expands globs again: a resolved name with glob characters is escaped so it
// matches only itself.
std::string glob_escape(const std::string& s) {
  if (!has_glob(s)) return s;
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::vector<std::string> expand(const std::string& pattern) {
  if (!has_glob(pattern)) return {pattern};
  glob_t g{};
  int rc = ::glob(pattern.c_str(), GLOB_ERR, nullptr, &g);
  std::unique_ptr<glob_t, void (*)(glob_t*)> guard(&g, globfree);
  if (rc == GLOB_NOMATCH)
    throw PathError("not_found", "input pattern '" + pattern + "' matches no file");
  if (rc != 0) throw PathError("not_found", "input pattern '" + pattern + "' cannot be read");
  std::vector<std::string> out(g.gl_pathv, g.gl_pathv + g.gl_pathc);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

void require_trusted_file(const fs::path& file, const std::string& what) {
  for (const fs::path& p : {file, file.parent_path()}) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) continue;  // a missing file is reported by its loader
    if (st.st_mode & (S_IWGRP | S_IWOTH))
      throw PathError("path_denied",
                      what + ": " + p.string() +
                          " is writable by group or others, so qkvd does not trust it as its own "
                          "configuration (chmod go-w " +
                          p.string() + ")");
  }
}

bool is_within(const fs::path& p, const fs::path& root) {
  auto pi = p.begin(), ri = root.begin();
  for (; ri != root.end(); ++ri, ++pi) {
    if (ri->empty()) continue;  // trailing separator of "/x/"
    if (pi == p.end() || *pi != *ri) return false;
  }
  return true;
}

PathPolicy::Roots PathPolicy::open_roots(std::string key, const std::vector<fs::path>& roots) {
  Roots out;
  out.key = std::move(key);
  for (auto& r : roots) {
    std::error_code ec;
    fs::path c = fs::canonical(r, ec);
    if (ec) continue;
    try {
      out.dirs.push_back(std::make_shared<const Directory>(Directory::open(c)));
      out.paths.push_back(c);
    } catch (const IoError&) {
      // Not a folder we can open: nothing can be opened beneath it.
    }
  }
  return out;
}

PathPolicy::PathPolicy(const PathRoots& roots, uint64_t max_input_bytes, ProtectedPaths keep)
    : input_(open_roots("roots.input", roots.input)),
      output_(open_roots("roots.output", roots.output)),
      models_(open_roots("roots.models", roots.models)),
      keep_(std::move(keep)),
      max_input_bytes_(max_input_bytes) {}

PathPolicy PathPolicy::unrestricted(ProtectedPaths keep) {
  PathPolicy p;
  p.restricted_ = false;
  p.keep_ = std::move(keep);
  return p;
}

std::vector<std::string> PathPolicy::resolve_inputs(const std::vector<std::string>& inputs) const {
  std::vector<std::string> out;
  uint64_t total = 0;
  for (auto& pattern : inputs) {
    require_absolute(pattern, "input");
    for (auto& file : expand(pattern)) {
      std::error_code ec;
      fs::path real = resolved_or_normal(file, ec);
      if (!inside_any(real, input_.paths))
        throw PathError("path_denied", "input '" + file + "' resolves to '" + real.string() +
                                           "', outside the input roots (" +
                                           roots_text(input_.key, input_.paths) + ")");
      if (ec) throw PathError("not_found", "input '" + file + "': " + ec.message());
      if (!fs::is_regular_file(real, ec))
        throw PathError("bad_request", "input '" + file + "' is not a regular file");
      total += fs::file_size(real, ec);
      out.push_back(glob_escape(real.string()));
    }
  }
  if (max_input_bytes_ && total > max_input_bytes_)
    throw PathError("input_too_large", "the job's inputs total " + std::to_string(total) +
                                           " bytes, over limits.max_job_input_bytes (" +
                                           std::to_string(max_input_bytes_) + ")");
  return out;
}

std::string PathPolicy::resolve_output(const std::string& output) const {
  require_absolute(output, "output");
  fs::path p(output);
  fs::path name = p.filename();
  if (name.empty() || name == "." || name == "..")
    throw PathError("bad_request", "output '" + output + "' must name a file");
  std::error_code ec;
  fs::path dir = resolved_or_normal(p.parent_path(), ec);
  if (!inside_any(dir, output_.paths))
    throw PathError("path_denied", "output '" + output + "' resolves into '" + dir.string() +
                                       "', outside the output roots (" +
                                       roots_text(output_.key, output_.paths) + ")");
  if (ec)
    throw PathError("not_found",
                    "output folder '" + p.parent_path().string() + "': " + ec.message());
  fs::path target = dir / name;
  auto st = fs::symlink_status(target, ec);
  if (!ec && fs::is_symlink(st)) {
    fs::path real = fs::weakly_canonical(target, ec);
    if (ec || !inside_any(real, output_.paths))
      throw PathError("path_denied",
                      "output '" + output + "' is a symlink leading outside the output roots");
  }
  // The protected places are refused here too for a clear early error; open_output decides.
  open_output(target, {}, true);
  return target.string();
}

std::string PathPolicy::resolve_asset(const std::string& value, const fs::path& base,
                                      const std::string& what) const {
  if (value.find('\0') != std::string::npos)
    throw PathError("bad_request", what + " contains a NUL byte");
  fs::path p(value);
  if (p.is_relative()) p = base / p;
  std::error_code ec;
  fs::path real = resolved_or_normal(p, ec);
  if (!inside_any(real, models_.paths) && !inside_any(real, input_.paths))
    throw PathError("path_denied", what + " '" + value + "' resolves to '" + real.string() +
                                       "', outside the asset roots (" +
                                       roots_text(models_.key, models_.paths) + "; " +
                                       roots_text(input_.key, input_.paths) + ")");
  if (ec) throw PathError("not_found", what + " '" + value + "': " + ec.message());
  return real.string();
}

std::string PathPolicy::resolve_pipeline_file(const std::string& path) const {
  require_absolute(path, "pipeline");
  std::error_code ec;
  fs::path real = resolved_or_normal(path, ec);
  if (!inside_any(real, input_.paths))
    throw PathError("path_denied",
                    "pipeline '" + path + "' resolves to '" + real.string() +
                        "', outside the input roots (" + roots_text(input_.key, input_.paths) +
                        "); name a pipeline of pipelines_dir, or put the file in an input root");
  if (ec) throw PathError("not_found", "pipeline '" + path + "': " + ec.message());
  if (!fs::is_regular_file(real, ec))
    throw PathError("bad_request", "pipeline '" + path + "' is not a regular file");
  return real.string();
}

std::shared_ptr<const Directory> PathPolicy::open_folder_beneath(const Roots& roots,
                                                                 const fs::path& folder) const {
  for (size_t i = 0; i < roots.paths.size(); ++i) {
    if (!is_within(folder, roots.paths[i])) continue;
    const std::string rel = folder.lexically_relative(roots.paths[i]).string();
    const int flags = O_RDONLY | O_DIRECTORY;
    UniqueFd fd = (rel.empty() || rel == ".")
                      ? UniqueFd(::openat(roots.dirs[i]->fd(), ".", flags | O_CLOEXEC))
                      : open_beneath(*roots.dirs[i], rel, flags);
    if (!fd) throw_errno(folder.string(), "cannot open folder", errno);
    return std::make_shared<const Directory>(std::move(fd), folder);
  }
  throw PathError("path_denied",
                  "'" + folder.string() + "' is outside " + roots_text(roots.key, roots.paths));
}

UniqueFd PathPolicy::open_input(const fs::path& file) const {
  if (!restricted_) {
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno(file.string(), "cannot open", errno);
    return fd;
  }
  const fs::path p = file.lexically_normal();
  auto dir = open_folder_beneath(input_, p.parent_path());
  UniqueFd fd = open_beneath(*dir, p.filename().string(), O_RDONLY);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    throw PathError("bad_request", "input '" + file.string() + "' is not a regular file");
  return fd;
}

std::shared_ptr<const Directory> PathPolicy::open_output_folder(const fs::path& folder) const {
  const fs::path p = folder.lexically_normal();
  if (!restricted_) return std::make_shared<const Directory>(Directory::open(p));
  return open_folder_beneath(output_, p);
}

UniqueFd PathPolicy::open_asset(const fs::path& resolved, bool folder) const {
  const fs::path p = resolved.lexically_normal();
  const int flags = O_RDONLY | (folder ? O_DIRECTORY : 0);
  for (const Roots* roots : {&models_, &input_}) {
    for (size_t i = 0; i < roots->paths.size(); ++i) {
      if (!is_within(p, roots->paths[i])) continue;
      const std::string rel = p.lexically_relative(roots->paths[i]).string();
      UniqueFd fd = (rel.empty() || rel == ".")
                        ? UniqueFd(::openat(roots->dirs[i]->fd(), ".", flags | O_CLOEXEC))
                        : open_beneath(*roots->dirs[i], rel, flags);
      if (!fd) throw_errno(p.string(), "cannot open", errno);
      struct stat st {};
      if (::fstat(fd.get(), &st) != 0 || (folder ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)))
        throw PathError("bad_request",
                        "'" + p.string() + "' is not a " + (folder ? "folder" : "regular file"));
      return fd;
    }
  }
  throw PathError("path_denied", "'" + p.string() + "' is outside the asset roots (" +
                                     roots_text(models_.key, models_.paths) + "; " +
                                     roots_text(input_.key, input_.paths) + ")");
}

OutputTarget PathPolicy::open_output(const fs::path& output, std::span<const fs::path> inputs,
                                     bool replace) const {
  const fs::path main = output.lexically_normal();
  if (main.filename().empty() || main.filename() == "." || main.filename() == "..")
    throw PathError("bad_request", "output '" + output.string() + "' must name a file");
  std::shared_ptr<const Directory> folder =
      restricted_ ? open_folder_beneath(output_, main.parent_path())
                  : std::make_shared<const Directory>(Directory::open(main.parent_path()));

  // Refuses a folder inside the spool or pipelines_dir: walk up through ".." fds.
  std::vector<std::pair<fs::path, FileId>> folders;
  for (auto& f : keep_.folders)
    if (auto id = id_of_path(f)) folders.emplace_back(f, *id);
  UniqueFd at(::openat(folder->fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  for (int depth = 0; at && depth < 4096; ++depth) {
    struct stat st {};
    if (::fstat(at.get(), &st) != 0) break;
    for (auto& [path, id] : folders)
      if (id == id_of(st))
        throw PathError("path_denied", "output '" + output.string() + "' is inside " +
                                           path.string() +
                                           " (the spool or pipelines_dir); choose another folder");
    UniqueFd up(::openat(at.get(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    struct stat ust {};
    if (!up || ::fstat(up.get(), &ust) != 0 || id_of(ust) == id_of(st)) break;  // at "/"
    at = std::move(up);
  }

  std::vector<std::pair<fs::path, FileId>> files;
  for (auto& f : keep_.files)
    if (auto id = id_of_path(f)) files.emplace_back(f, *id);
  for (auto& in : inputs)
    if (auto id = id_of_path(in)) files.emplace_back(in, *id);
  auto check = [folder, files, replace, n_keep = keep_.files.size()](std::string_view name) {
    require_entry_name(name, folder->path());
    struct stat st {};
    if (::fstatat(folder->fd(), std::string(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
    const std::string file = folder->path_of(name).string();
    for (size_t i = 0; i < files.size(); ++i) {
      if (!(files[i].second == id_of(st))) continue;
      if (i < n_keep)
        throw PathError("path_denied", "output '" + file + "' is " + files[i].first.string() +
                                           " (the daemon's socket or config); name another file");
      throw PathError("bad_request", "output '" + file + "' is also an input of the job (" +
                                         files[i].first.string() +
                                         "); writing it would destroy the input");
    }
    // Renaming over a device, fifo or socket would replace it with a regular file; a symlink
    // is replaced itself, never followed.
    if (S_ISDIR(st.st_mode))
      throw PathError("bad_request", "output '" + file + "' is a folder; name a file");
    if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
      throw PathError("bad_request", "output '" + file +
                                         "' exists and is not a regular file (device, fifo or "
                                         "socket); name a regular file");
    if (!replace)
      throw PathError("output_exists", "output '" + file +
                                           "' exists and output.overwrite is false; nothing "
                                           "was replaced");
  };
  check(main.filename().string());
  return OutputTarget(std::move(folder), main, std::move(check), replace);
}

void refuse_output_onto_inputs(const std::string& output, const std::vector<std::string>& inputs) {
  std::error_code ec;
  for (auto& in : inputs) {
    if (fs::equivalent(output, in, ec))
      throw PathError("bad_request", "output '" + output + "' is also an input of the job (" + in +
                                         "); writing it would destroy the input");
  }
}

}  // namespace qkv::io
