// What keeps the daemon from being fully healthy, by origin: the last load or reload names its
// broken pipelines and refused plugins ("pipelines"), a job source its own trouble (an
// unreachable queue). `health` reports `degraded` with the list while any origin has one;
// readers take a snapshot, so a health request never waits on a load or a network call.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace qkv::jobs {

class Problems {
 public:
  // Replaces what `origin` reported before (an empty list clears it). Thread-safe.
  void set(const std::string& origin, std::vector<std::string> problems);
  void clear(const std::string& origin) { set(origin, {}); }
  // Every current problem, ordered by origin, then as reported.
  std::vector<std::string> all() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<std::string>> by_origin_;
};

}  // namespace qkv::jobs
