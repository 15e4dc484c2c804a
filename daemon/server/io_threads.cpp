#include "server/io_threads.hpp"

#include <algorithm>

namespace qkv::server {

IoThreads::IoThreads(boost::asio::io_context& io, IoThreadsOptions options)
    : io_(io), options_(options) {}

IoThreads::~IoThreads() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  for (auto& t : threads_) t.join();
}

void IoThreads::run() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = served_ = false;
  }
  watchdog_ = std::thread([this] { watch(); });
  serve();
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return served_; });
    stopping_ = true;
  }
  changed_.notify_all();
  watchdog_.join();  // after this, threads_ no longer grows
  // Like joining a compute pool: a thread whose plugin call never returns keeps this waiting.
  for (auto& t : threads_) t.join();
  threads_.clear();
  if (failed_) std::rethrow_exception(std::exchange(failed_, nullptr));
}

void IoThreads::serve() {
  try {
    io_.run();
  } catch (const Left&) {
    late_.fetch_sub(1, std::memory_order_relaxed);
    return;
  } catch (...) {
    std::lock_guard lock(mutex_);
    failed_ = std::current_exception();
    io_.stop();  // nobody serves the sockets any more: end as a single io thread would
  }
  {
    std::lock_guard lock(mutex_);
    served_ = true;
  }
  changed_.notify_all();
}

bool IoThreads::may_run_in_place(std::string_view kind) const {
  if (late_.load(std::memory_order_relaxed) >= options_.max_late) return false;
  std::lock_guard lock(mutex_);
  return slow_kinds_.find(kind) == slow_kinds_.end();
}

void IoThreads::ran_on_pool(std::string_view kind, std::chrono::steady_clock::duration took) {
  if (took >= options_.patience / 4) return;
  std::lock_guard lock(mutex_);
  if (auto it = slow_kinds_.find(kind); it != slow_kinds_.end()) slow_kinds_.erase(it);
}

uint64_t IoThreads::begin_in_place(std::string_view kind) {
  current_kind_.assign(kind);
  const uint64_t token = next_token_++;
  in_place_runs_.fetch_add(1, std::memory_order_relaxed);
  // Paired with watch(): either the watchdog sees this token, or this sees it parked.
  running_.store(token, std::memory_order_seq_cst);
  if (!watching_.load(std::memory_order_seq_cst)) {
    {
      std::lock_guard lock(mutex_);
      watching_.store(true, std::memory_order_seq_cst);
    }
    changed_.notify_all();
  }
  return token;
}

bool IoThreads::end_in_place(uint64_t token) {
  // Fails when the watchdog took this token: another thread serves the sockets now.
  return running_.compare_exchange_strong(token, 0, std::memory_order_acq_rel);
}

void IoThreads::watch() {
  const auto tick = std::max(options_.patience / 2, std::chrono::milliseconds(1));
  std::unique_lock lock(mutex_);
  uint64_t seen = 0, runs_seen = 0;
  int sightings = 0;
  while (!stopping_) {
    if (!watching_.load(std::memory_order_seq_cst)) {
      changed_.wait(lock, [&] { return stopping_ || watching_.load(std::memory_order_seq_cst); });
      continue;
    }
    if (changed_.wait_for(lock, tick, [&] { return stopping_; })) break;
    uint64_t token = running_.load(std::memory_order_acquire);
    const uint64_t runs = in_place_runs_.load(std::memory_order_relaxed);
    if (token == 0) {
      sightings = 0;
      if (runs == runs_seen) {  // nothing ran in place for a whole tick: park
        watching_.store(false, std::memory_order_seq_cst);
        if (running_.load(std::memory_order_seq_cst) != 0)
          watching_.store(true, std::memory_order_seq_cst);
      }
      runs_seen = runs;
      continue;
    }
    runs_seen = runs;
    sightings = token == seen ? sightings + 1 : 1;
    seen = token;
    // Seen at three ticks in a row: it has run at least two ticks, the patience.
    if (sightings < 3) continue;
    sightings = 0;
    if (!running_.compare_exchange_strong(token, 0, std::memory_order_acq_rel)) continue;
    late_.fetch_add(1, std::memory_order_relaxed);
    takeovers_.fetch_add(1, std::memory_order_relaxed);
    slow_kinds_.insert(current_kind_);
    threads_.emplace_back([this] { serve(); });
  }
}

}  // namespace qkv::server
