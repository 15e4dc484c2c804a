// Where a job's compute runs. The optimized build shares one oneTBB arena, sized by config,
// between all running jobs: each job's thread joins the arena, so concurrent jobs split its
// workers between them. Debian's oneTBB is not TSan-instrumented, so the TSan build uses the
// plain executor (the job runs on its own std::thread, with one worker) instead.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <functional>
#include <memory>

namespace qkv::jobs {

class Executor {
 public:
  virtual ~Executor() = default;
  virtual void execute(const std::function<void()>& fn) = 0;
  virtual unsigned concurrency() const noexcept = 0;
  // True when jobs must be told to use one thread (plain executor).
  virtual bool single_threaded_jobs() const noexcept { return false; }
  // The shared arena, for runners that run parallel algorithms in it (nullptr: none).
  virtual oneapi::tbb::task_arena* arena() noexcept { return nullptr; }
};

// threads == 0: all cores.
std::unique_ptr<Executor> make_arena_executor(unsigned threads);
std::unique_ptr<Executor> make_plain_executor(unsigned threads);
// The arena executor, except in a TSan build.
std::unique_ptr<Executor> make_default_executor(unsigned threads);

}  // namespace qkv::jobs
