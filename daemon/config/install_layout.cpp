#include "config/install_layout.hpp"

#include <algorithm>
#include <cstdlib>
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

bool is_build_tree_executable() {
#ifdef QKV_BUILD_TREE
  std::error_code ec;
  const fs::path build = fs::weakly_canonical(QKV_BUILD_TREE, ec);
  if (ec || build.empty()) return false;
  const fs::path exe = executable_path();
  auto [b, e] = std::mismatch(build.begin(), build.end(), exe.begin(), exe.end());
  return b == build.end();
#else
  return false;
#endif
}

fs::path default_config_file() {
  if (const char* env = std::getenv("QKVD_CONFIG"); env && *env) return env;
  std::error_code ec;
#ifdef QKV_SOURCE_CONFIG
  if (is_build_tree_executable()) return fs::exists(QKV_SOURCE_CONFIG, ec) ? QKV_SOURCE_CONFIG : "";
#endif
  for (const fs::path& candidate : {(executable_dir() / "../etc/qkv/qkvd.yaml").lexically_normal(),
                                    fs::path("/etc/qkv/qkvd.yaml")}) {
    if (fs::exists(candidate, ec)) return candidate;
  }
  return {};
}

}  // namespace qkv::config
