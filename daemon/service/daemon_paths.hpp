// What the daemon config says about paths, in the path policy's terms (io/path_policy.hpp): its
// roots, and the places no output may replace or go inside (the spool, pipelines_dir, the
// socket, the config file itself). The daemon and `qkvd run` both protect the latter.
#pragma once

#include "config/daemon_config.hpp"
#include "io/path_policy.hpp"

namespace qkv::service {

io::PathRoots path_roots(const config::DaemonConfig& c);
io::ProtectedPaths protected_paths(const config::DaemonConfig& c);

}  // namespace qkv::service
