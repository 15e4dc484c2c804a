// Output buffers that one job's chunks hand back after they are written, for the next chunks
// to reuse: a fresh multi-megabyte std::string per chunk meant page faults on every page it
// touched and a copy on every doubling, which profiled as a large share of a tokenize job.
// Thread-safe (workers take, the writer thread gives back); holds at most the job's live
// chunks' worth of buffers.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace qkv::pipeline::detail {

class BufferPool {
 public:
  explicit BufferPool(size_t max_buffers) : max_(max_buffers) {}

  // An empty buffer with room for at least `bytes` (a reused one when there is one).
  std::string take(size_t bytes) {
    std::string b;
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        b = std::move(free_.back());
        free_.pop_back();
      }
    }
    b.clear();
    if (b.capacity() < bytes) b.reserve(bytes);
    return b;
  }

  void give(std::string&& b) {
    std::lock_guard lock(mutex_);
    if (free_.size() < max_) free_.push_back(std::move(b));
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> free_;
  size_t max_;
};

}  // namespace qkv::pipeline::detail
