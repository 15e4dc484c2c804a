#include "path_policy.hpp"

#include <glob.h>

#include <algorithm>
#include <memory>

namespace qkv::io {
namespace {

std::vector<fs::path> resolve_roots(const std::vector<fs::path>& roots) {
  std::vector<fs::path> out;
  for (auto& r : roots) {
    std::error_code ec;
    fs::path c = fs::canonical(r, ec);
    if (!ec) out.push_back(c);
  }
  return out;
}

bool inside_any(const fs::path& p, const std::vector<fs::path>& roots) {
  return std::any_of(roots.begin(), roots.end(), [&](auto& r) { return is_within(p, r); });
}

std::string roots_text(const std::vector<fs::path>& roots) {
  std::string s;
  for (auto& r : roots) s += (s.empty() ? "" : ", ") + r.string();
  return s.empty() ? "(none configured)" : s;
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

bool is_within(const fs::path& p, const fs::path& root) {
  auto pi = p.begin(), ri = root.begin();
  for (; ri != root.end(); ++ri, ++pi) {
    if (ri->empty()) continue;  // trailing separator of "/x/"
    if (pi == p.end() || *pi != *ri) return false;
  }
  return true;
}

PathPolicy::PathPolicy(const PathRoots& roots, uint64_t max_input_bytes,
                       std::vector<fs::path> no_output)
    : input_(resolve_roots(roots.input)),
      output_(resolve_roots(roots.output)),
      no_output_(resolve_roots(no_output)),
      max_input_bytes_(max_input_bytes) {}

std::vector<std::string> PathPolicy::resolve_inputs(const std::vector<std::string>& inputs) const {
  std::vector<std::string> out;
  uint64_t total = 0;
  for (auto& pattern : inputs) {
    require_absolute(pattern, "input");
    for (auto& file : expand(pattern)) {
      std::error_code ec;
      fs::path real = fs::canonical(file, ec);
      if (ec) throw PathError("not_found", "input '" + file + "': " + ec.message());
      if (!inside_any(real, input_))
        throw PathError("path_denied", "input '" + file + "' resolves to '" + real.string() +
                                           "', outside the input roots (" + roots_text(input_) +
                                           ")");
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
  fs::path dir = fs::canonical(p.parent_path(), ec);
  if (ec)
    throw PathError("not_found",
                    "output folder '" + p.parent_path().string() + "': " + ec.message());
  if (!inside_any(dir, output_))
    throw PathError("path_denied", "output '" + output + "' resolves into '" + dir.string() +
                                       "', outside the output roots (" + roots_text(output_) + ")");
  if (inside_any(dir, no_output_))
    throw PathError("path_denied",
                    "output '" + output + "' is inside the spool; choose another folder");
  fs::path target = dir / name;
  auto st = fs::symlink_status(target, ec);
  if (!ec && fs::is_symlink(st)) {
    fs::path real = fs::weakly_canonical(target, ec);
    if (ec || !inside_any(real, output_))
      throw PathError("path_denied",
                      "output '" + output + "' is a symlink leading outside the output roots");
  }
  if (!ec && fs::is_directory(st))
    throw PathError("bad_request", "output '" + output + "' is a folder; name a file");
  // Renaming over a device, fifo or socket would replace it with a regular file (issue 10 item 3).
  if (!ec && fs::exists(st) && !fs::is_regular_file(st) && !fs::is_symlink(st))
    throw PathError("bad_request", "output '" + output +
                                       "' exists and is not a regular file (device, fifo or "
                                       "socket); name a regular file");
  return target.string();
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
