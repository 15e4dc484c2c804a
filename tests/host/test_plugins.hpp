// Paths of the host's test plugins (built into a test-only folder).
#pragma once

#include <filesystem>
#include <string>

namespace qkv::host::test {

inline std::filesystem::path plugin_dir() { return QKV_HOST_TEST_PLUGIN_DIR; }
inline std::filesystem::path plugin_file(const std::string& name) {
  return plugin_dir() / ("qkv_" + name + ".so");
}

}  // namespace qkv::host::test
