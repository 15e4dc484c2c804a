// What `sources.redis` in the daemon config says (docs/scale-out.md), as the source takes it.
#pragma once

#include <chrono>
#include <string>

namespace qkv::jobs::redis {

struct Options {
  std::string url;  // redis://host:port or unix:///path
  std::string stream = "qkv:jobs";
  std::string group = "qkv";
  std::string consumer;  // empty: hostname-pid
  std::chrono::seconds heartbeat{10};
  std::chrono::seconds claim_idle{60};
  unsigned max_deliveries = 5;
  // Entries a worker takes beyond its free job slots (running + queued < threads + prefetch):
  // 0 leaves every entry it cannot start at once to the other workers (load balance).
  unsigned prefetch = 0;
  std::string username;
  std::string password;     // read from password_file by the config
  double results_days = 7;  // results (and end fences) kept this long
};

// The consumer name when none is configured: hostname-pid (unique per process).
std::string default_consumer();

}  // namespace qkv::jobs::redis
