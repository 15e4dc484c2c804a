// The thread that serves the sockets, and short work done in place on it.
//
// Why: handing a small inline request to a compute pool and its reply back costs two thread
// wake-ups, far more than tokenizing "Hello world"; Redis answers on the thread that read the
// request. But a plugin call may hang or a vocabulary may take seconds to load, and `health`
// must still answer. So work run in place is watched: when it outlasts `patience`, a fresh
// thread takes over the io_context and the late thread leaves it as soon as its work returns
// (it finishes only its own request, by posting). The work's `kind` (a pipeline name) is then
// sent to the pool until a pool run of it is quick again.
//
// One thread runs the io_context at a time, as before, so io-thread state needs no locks: the
// hand-over is ordered by an atomic exchange (the late thread's last io-thread action happens
// before the takeover; after it, the late thread only posts).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "server/asio.hpp"

namespace qkv::server {

struct IoThreadsOptions {
  // How long work may run in place before another thread takes over the sockets.
  std::chrono::milliseconds patience{20};
  // Late threads still inside their work, beyond which nothing more runs in place.
  unsigned max_late = 2;
};

class IoThreads {
 public:
  explicit IoThreads(boost::asio::io_context& io, IoThreadsOptions options = {});
  ~IoThreads();
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

  // Serves the io_context until it stops (as io_context::run), then joins every thread it
  // started; the calling thread is the first io thread.
  void run();

  // Whether work of this kind may run in place now (a cheap check on the io thread).
  bool may_run_in_place(std::string_view kind) const;
  // A pool run of `kind` took `took`: a quick one lets that kind run in place again.
  void ran_on_pool(std::string_view kind, std::chrono::steady_clock::duration took);

  // Called from a handler on the io thread: runs `work()`, then `finish(still_io_thread)`.
  // When the work outlasted the patience, `finish` gets false: it may only post to the
  // io_context (another thread serves it now), and this thread then leaves it.
  template <class Work, class Finish>
  void run_in_place(std::string_view kind, Work&& work, Finish&& finish) {
    const uint64_t token = begin_in_place(kind);
    bool kept = false;
    try {
      work();
      kept = end_in_place(token);
    } catch (...) {
      kept = end_in_place(token);
      if (kept) throw;
      leave();
    }
    finish(kept);
    if (!kept) leave();
  }

  uint64_t in_place_runs() const noexcept { return in_place_runs_.load(std::memory_order_relaxed); }
  uint64_t takeovers() const noexcept { return takeovers_.load(std::memory_order_relaxed); }

 private:
  struct Left {};  // thrown out of io_context::run by a late thread
  uint64_t begin_in_place(std::string_view kind);
  bool end_in_place(uint64_t token);
  [[noreturn]] static void leave() { throw Left{}; }
  void serve();  // one io thread's life
  void watch();  // the watchdog thread

  boost::asio::io_context& io_;
  const IoThreadsOptions options_;
  std::atomic<uint64_t> running_{0};  // the token of the work in place, 0 when none
  // Written by the io thread before it publishes `running_`; read by the watchdog after it
  // has taken that token (so ordered by it).
  uint64_t next_token_ = 1;
  std::string current_kind_;
  std::atomic<bool> watching_{false};  // the watchdog ticks; parked when nothing ran in place
  std::atomic<unsigned> late_{0};      // late threads still inside their work
  std::atomic<uint64_t> in_place_runs_{0}, takeovers_{0};

  mutable std::mutex mutex_;  // guards what follows
  std::condition_variable changed_;
  bool stopping_ = false, served_ = false;
  std::exception_ptr failed_;  // a handler's exception (other than Left): rethrown by run()
  std::set<std::string, std::less<>> slow_kinds_;
  std::vector<std::thread> threads_;
  std::thread watchdog_;
};

}  // namespace qkv::server
