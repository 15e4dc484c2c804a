// Runs a real qkvd (and qkvctl) for the daemon tests: temp folders, a config with test
// pipelines, start/stop/kill, a socket client, running commands.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "ctl/client.hpp"

namespace qkv::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Stress counts shrink under sanitizers (QKV_STRESS_DIVISOR, set by CMake).
#ifndef QKV_STRESS_DIVISOR
#define QKV_STRESS_DIVISOR 1
#endif
inline int scaled(int n) { return std::max(1, n / QKV_STRESS_DIVISOR); }

std::string bin(const std::string& name);
std::string read_text(const fs::path& p);
void write_text(const fs::path& p, const std::string& s);
// The ids the test-bytes plugin gives: one JSON array of byte values per jsonl document.
std::string bytes_ids_jsonl(const std::vector<std::string>& texts);
std::string jsonl_of(const std::vector<std::string>& texts);  // {"text":...} lines

struct TempDir {
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  fs::path path;
};

// A test setup: folders in/ out/ pipelines/ spool/, a qkvd.yaml, test pipelines:
//   bytes (fast), slow (delay_us per document, small chunks), crashy (aborts on "CRASH").
struct Rig {
  // copy_plugins: the test plugin is copied into a folder of this setup (reload tests
  // replace it), instead of being loaded from the build tree.
  explicit Rig(const std::string& extra_yaml = "", long slow_delay_us = 2000,
               bool copy_plugins = false);
  TempDir dir;
  fs::path config, socket, spool, in, out, pipelines, plugins;
  void write_pipeline(const std::string& name, const std::string& yaml) const;
  // A shipped pipeline (configs/pipelines/<shipped>.yaml) as `name` in pipelines_dir, its
  // vocabulary paths made absolute (a pipeline named by path must lie in an input root:
  // tests/security/paths_test.cpp).
  void write_shipped_pipeline(const std::string& name, const std::string& shipped) const;
};

class Daemon {
 public:
  explicit Daemon(const Rig& s);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Starts qkvd and waits until `health` answers. Extra environment variables optional.
  void start(const std::map<std::string, std::string>& env = {});
  // Starts qkvd without waiting: for a start that is expected to die (a recovered job that
  // crashes it may do so before `health` could ever answer).
  void spawn(const std::map<std::string, std::string>& env = {});
  void wait_ready();
  void kill9();
  void signal(int sig);
  // Waits for exit; returns the exit status (or -signal), or throws after the timeout.
  int wait_exit(std::chrono::milliseconds timeout = 30s);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  ctl::Client client() const;
  std::string log() const;

 private:
  const Rig& setup_;
  pid_t pid_ = -1;
  fs::path log_;
  int starts_ = 0;
};

struct CmdResult {
  int code = -1;
  std::string out, err;
};
CmdResult run_cmd(const std::vector<std::string>& argv, const std::string& input = "");

// A TCP port on 127.0.0.1 that was free a moment ago (for a qkvd `tcp:` listener).
uint16_t free_tcp_port();
// One HTTP request to 127.0.0.1:port; the whole response (head and body), "" when refused.
std::string http(uint16_t port, const std::string& request);
// The value of one sample line `name{labels} value` of a Prometheus text, or -1.
double sample(const std::string& text, const std::string& series);

// Polls `pred` until true or the timeout.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 20s) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

}  // namespace qkv::test
