// server::IoThreads: small work runs in place on the io thread, and work that outlasts the
// patience hands the io_context to a fresh thread, so other handlers (health, timers) keep
// being served while it is stuck.
#include "server/io_threads.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

namespace qkv::server {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Keeps the io_context running until stop(), like the daemon's acceptor does.
struct Rig {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  IoThreads threads;
  std::thread runner;
  explicit Rig(IoThreadsOptions o = {}) : threads(io, o) {
    runner = std::thread([this] { threads.run(); });
  }
  ~Rig() { stop(); }
  void stop() {
    work.reset();
    io.stop();
    if (runner.joinable()) runner.join();
  }
  // Runs `fn` on whichever thread serves the io_context, and waits for its result.
  template <class F>
  auto on_io(F fn, std::chrono::milliseconds within = 5s) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    asio::post(io, [&task] { task(); });
    if (result.wait_for(within) != std::future_status::ready)
      throw std::runtime_error("the io_context served nothing within the time");
    return result.get();
  }
};

TEST(IoThreads, QuickWorkRunsInPlaceAndKeepsTheThread) {
  Rig rig;
  std::thread::id io_thread = rig.on_io([] { return std::this_thread::get_id(); });
  std::promise<std::pair<std::thread::id, bool>> seen;
  asio::post(rig.io, [&] {
    std::thread::id worker;
    rig.threads.run_in_place(
        "tokenize", [&] { worker = std::this_thread::get_id(); },
        [&](bool kept) {
          seen.set_value({worker, kept});
        });
  });
  auto [worker, kept] = seen.get_future().get();
  EXPECT_EQ(worker, io_thread);
  EXPECT_TRUE(kept);
  EXPECT_EQ(rig.on_io([] { return std::this_thread::get_id(); }), io_thread);
  EXPECT_EQ(rig.threads.in_place_runs(), 1u);
  EXPECT_EQ(rig.threads.takeovers(), 0u);
  EXPECT_TRUE(rig.threads.may_run_in_place("tokenize"));
}

TEST(IoThreads, StuckWorkHandsTheIoContextToAnotherThread) {
  Rig rig({std::chrono::milliseconds(20), 2});
  std::promise<void> release, began;
  std::promise<bool> kept_after;
  asio::post(rig.io, [&] {
    rig.threads.run_in_place(
        "hang",
        [&] {
          began.set_value();
          release.get_future().wait();
        },
        [&](bool kept) { kept_after.set_value(kept); });
  });
  began.get_future().wait();
  // The io_context is served while the work is stuck: by a thread that is not the stuck one.
  const auto t0 = std::chrono::steady_clock::now();
  std::thread::id server = rig.on_io([] { return std::this_thread::get_id(); }, 2s);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(rig.threads.takeovers(), 1u);
  // Its kind goes to the pool now; other kinds still run in place.
  EXPECT_FALSE(rig.threads.may_run_in_place("hang"));
  EXPECT_TRUE(rig.threads.may_run_in_place("tokenize"));
  release.set_value();
  EXPECT_FALSE(kept_after.get_future().get()) << "the late thread was told it is not the io thread";
  // The new thread goes on serving; the late one has left.
  EXPECT_EQ(rig.on_io([] { return std::this_thread::get_id(); }), server);
  // A quick pool run of that kind lets it run in place again.
  rig.threads.ran_on_pool("hang", std::chrono::milliseconds(1));
  EXPECT_TRUE(rig.threads.may_run_in_place("hang"));
  rig.stop();  // joins every thread it started
}

TEST(IoThreads, NothingRunsInPlaceWhileTooManyLateThreadsAreStuck) {
  Rig rig({std::chrono::milliseconds(10), 1});
  std::promise<void> release, began;
  std::shared_future<void> go = release.get_future().share();
  asio::post(rig.io, [&] {
    rig.threads.run_in_place(
        "hang",
        [&] {
          began.set_value();
          go.wait();
        },
        [](bool) {});
  });
  began.get_future().wait();
  rig.on_io([] { return 0; }, 2s);  // served again: taken over
  EXPECT_FALSE(rig.threads.may_run_in_place("tokenize"));
  release.set_value();
  // The late thread leaves once its work returns: then work may run in place again.
  for (int i = 0; i < 400 && !rig.threads.may_run_in_place("tokenize"); ++i)
    std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(rig.threads.may_run_in_place("tokenize"));
}

TEST(IoThreads, AnExceptionFromAHandlerEndsRunAndIsRethrown) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  IoThreads threads(io);
  asio::post(io, [] { throw std::runtime_error("handler failed"); });
  EXPECT_THROW(threads.run(), std::runtime_error);
}

}  // namespace
}  // namespace qkv::server
