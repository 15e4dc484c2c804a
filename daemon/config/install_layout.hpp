// Where a qkv executable finds its files. An installed binary looks under its own prefix (the
// folder above bin/), then the system's; a binary still inside the build tree it was built in
// belongs to that checkout and uses its source tree. So a copied or installed qkvctl never
// talks to some checkout's daemon, and a build tree never picks up the system's config.
#pragma once

#include <filesystem>

namespace qkv::config {

// The running executable (/proc/self/exe) and its folder.
std::filesystem::path executable_path();
std::filesystem::path executable_dir();

// True when the running executable lies in a build tree's bin/ (the build's marker file is
// beside it).
bool is_build_tree_executable();

// The daemon config used when none is named: $QKVD_CONFIG; for a build-tree binary the source
// tree's configs/qkvd.yaml; else <prefix>/etc/qkv/qkvd.yaml, then /etc/qkv/qkvd.yaml. Empty when
// none exists (defaults apply).
std::filesystem::path default_config_file();

}  // namespace qkv::config
