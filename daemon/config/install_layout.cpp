#include "config/install_layout.hpp"

#include <cstdlib>
#include <fstream>
#include <string>
#include <system_error>

namespace qkv::config {
namespace fs = std::filesystem;

fs::path executable_path() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path{} : exe;
}

fs::path executable_dir() {
  fs::path exe = executable_path();
  return exe.empty() ? fs::current_path() : exe.parent_path();
}

namespace {
// Written by daemon/config/CMakeLists.txt at configure time; never installed.
fs::path build_tree_marker() { return executable_dir() / "../qkv-build-tree"; }
}  // namespace

bool is_build_tree_executable() {
  std::error_code ec;
  return fs::is_regular_file(build_tree_marker(), ec);
}

fs::path default_config_file() {
  if (const char* env = std::getenv("QKVD_CONFIG"); env && *env) return env;
  std::error_code ec;
  if (is_build_tree_executable()) {
    std::ifstream marker(build_tree_marker());
    std::string source_config;
    std::getline(marker, source_config);
    return fs::exists(source_config, ec) ? fs::path(source_config) : fs::path{};
  }
  for (const fs::path& candidate : {(executable_dir() / "../etc/qkv/qkvd.yaml").lexically_normal(),
                                    fs::path("/etc/qkv/qkvd.yaml")}) {
    if (fs::exists(candidate, ec)) return candidate;
  }
  return {};
}

}  // namespace qkv::config
