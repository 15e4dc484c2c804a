// qkvd's serve mode: the spool, the scheduler, the socket server, signals and systemd
// notification, wired together. run() returns when a SIGTERM/SIGINT drain has finished.
#pragma once

#include <memory>

#include "service/service_options.hpp"

namespace qkv::service {

class DaemonService {
 public:
  explicit DaemonService(ServiceOptions options);
  ~DaemonService();
  DaemonService(const DaemonService&) = delete;
  DaemonService& operator=(const DaemonService&) = delete;

  // Serves until SIGTERM or SIGINT, then drains. Returns the process exit code. Throws
  // std::runtime_error with a clear message when it cannot start (socket in use, spool
  // not writable, no pipelines).
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qkv::service
