#include "service/daemon_paths.hpp"

namespace qkv::service {

io::PathRoots path_roots(const config::DaemonConfig& c) {
  return {c.roots.input, c.roots.output, c.roots.models};
}

io::ProtectedPaths protected_paths(const config::DaemonConfig& c) {
  io::ProtectedPaths p{{c.spool, c.pipelines_dir}, {c.socket}};
  if (!c.file.empty()) p.files.push_back(c.file);
  return p;
}

}  // namespace qkv::service
