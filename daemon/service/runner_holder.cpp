#include "service/runner_holder.hpp"

#include <stdexcept>

namespace qkv::service {

RunnerBundle RunnerHolder::reload() {
  std::lock_guard build(build_mutex_);
  RunnerBundle b = make_();
  if (!b.runner) throw std::runtime_error("no runner was built");
  std::lock_guard lock(mutex_);
  current_ = b.runner;
  ++generation_;
  return b;
}

std::shared_ptr<jobs::JobRunner> RunnerHolder::current() const {
  std::lock_guard lock(mutex_);
  if (!current_) throw std::runtime_error("no pipelines loaded yet");
  return current_;
}

uint64_t RunnerHolder::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

}  // namespace qkv::service
