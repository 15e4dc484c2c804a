#include "jobs/executor.hpp"

#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>

#include <thread>

namespace qkv::jobs {
namespace {

unsigned resolve(unsigned threads) {
  if (threads) return threads;
  unsigned n = static_cast<unsigned>(tbb::info::default_concurrency());
  return n ? n : 1;
}

class ArenaExecutor final : public Executor {
 public:
  explicit ArenaExecutor(unsigned threads) : threads_(resolve(threads)), arena_(int(threads_)) {}
  void execute(const std::function<void()>& fn) override { arena_.execute(fn); }
  unsigned concurrency() const noexcept override { return threads_; }
  tbb::task_arena* arena() noexcept override { return &arena_; }

 private:
  unsigned threads_;
  tbb::task_arena arena_;
};

class PlainExecutor final : public Executor {
 public:
  explicit PlainExecutor(unsigned threads)
      : threads_(threads ? threads : std::max(1u, std::thread::hardware_concurrency())) {}
  void execute(const std::function<void()>& fn) override { fn(); }
  unsigned concurrency() const noexcept override { return threads_; }
  bool single_threaded_jobs() const noexcept override { return true; }

 private:
  unsigned threads_;
};

}  // namespace

std::unique_ptr<Executor> make_arena_executor(unsigned threads) {
  return std::make_unique<ArenaExecutor>(threads);
}
std::unique_ptr<Executor> make_plain_executor(unsigned threads) {
  return std::make_unique<PlainExecutor>(threads);
}
std::unique_ptr<Executor> make_default_executor(unsigned threads) {
#if defined(__SANITIZE_THREAD__)
  return make_plain_executor(threads);
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
  return make_plain_executor(threads);
#else
  return make_arena_executor(threads);
#endif
#else
  return make_arena_executor(threads);
#endif
}

}  // namespace qkv::jobs
