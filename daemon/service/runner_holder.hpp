// The current JobRunner, swapped whole on reload. Jobs take a shared_ptr when they start and
// keep it to the end, so a reload never changes what a running job computes with, and old
// plugin libraries stay loaded while anything still uses them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "service/service_options.hpp"

namespace qkv::service {

class RunnerHolder {
 public:
  explicit RunnerHolder(std::function<RunnerBundle()> make) : make_(std::move(make)) {}

  // Builds a new runner; on success it becomes current. Throws (the old one stays).
  RunnerBundle reload();
  std::shared_ptr<jobs::JobRunner> current() const;
  uint64_t generation() const;

 private:
  std::function<RunnerBundle()> make_;
  std::mutex build_mutex_;  // one reload at a time
  mutable std::mutex mutex_;
  std::shared_ptr<jobs::JobRunner> current_;
  uint64_t generation_ = 0;
};

}  // namespace qkv::service
