// qkvd benchmark: inline `run` round trip (1 and 32 clients) against Redis PING over a Unix
// socket, measured by the same client loop in the same run; a large tokenize job through the
// daemon against `qkvd run` in-process on the same input; cancel latency.
//   qkv_bench_daemon [--smoke] [--build DIR] [--qkvd PATH] [--latency-only]
//   (--smoke: small counts, no Redis; --qkvd: the daemon binary, default DIR/bin/qkvd, e.g. an
//   older build's for a before/after comparison; --latency-only: the round trips only)
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctl/client.hpp"
#include "machine.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Process {
  pid_t pid = -1;
  Process() = default;
  Process(std::vector<std::string> args, const fs::path& log) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0)
      throw std::runtime_error("cannot start " + args[0]);
    posix_spawn_file_actions_destroy(&fa);
  }
  Process(Process&& o) noexcept : pid(std::exchange(o.pid, -1)) {}
  Process& operator=(Process&& o) noexcept {
    stop();
    pid = std::exchange(o.pid, -1);
    return *this;
  }
  int wait() {
    int st = 0;
    ::waitpid(pid, &st, 0);
    pid = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  void stop() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    wait();
  }
  ~Process() { stop(); }
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, std::size_t(p * double(v.size())))];
}

// Round-trip times (µs) of `requests` request/reply pairs over `clients` connections.
std::vector<double> round_trips(const std::function<int()>& connect, const std::string& request,
                                const std::string& reply_end, int clients, int requests) {
  std::vector<std::vector<double>> per(clients);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      int fd = connect();
      char buf[65536];
      std::string got;
      for (int i = 0; i < requests / clients + 200; ++i) {  // the first 200 warm up
        auto t0 = Clock::now();
        if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != ssize_t(request.size()))
          throw std::runtime_error("send failed");
        got.clear();
        while (got.size() < reply_end.size() ||
               got.compare(got.size() - reply_end.size(), reply_end.size(), reply_end) != 0) {
          ssize_t n = ::recv(fd, buf, sizeof buf, 0);
          if (n <= 0) throw std::runtime_error("connection lost");
          got.append(buf, std::size_t(n));
        }
        if (i >= 200)
          per[c].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
      ::close(fd);
    });
  }
  for (auto& t : threads) t.join();
  std::vector<double> all;
  for (auto& p : per) all.insert(all.end(), p.begin(), p.end());
  return all;
}

int connect_unix(const std::string& path) {
  auto c = qkv::ctl::Client::connect(path);
  int fd = ::dup(c.fd());
  return fd;
}

bool wait_for_socket(const std::string& path, std::chrono::seconds limit) {
  auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    try {
      qkv::ctl::Client::connect(path);
      return true;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(20ms);
    }
  }
  return false;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

json wait_end(qkv::ctl::Client& c, const std::string& id) {
  c.send({{"op", "wait"}, {"id", id}, {"interval_ms", 1000}});
  for (;;) {
    json j = c.read_json();
    if (j.value("event", "") != "progress") return j;
  }
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  bool smoke = false, latency_only = false;
  fs::path build = fs::path(QKV_BINARY_DIR), qkvd_bin;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--smoke"))
      smoke = true;
    else if (!std::strcmp(argv[i], "--latency-only"))
      latency_only = true;
    else if (!std::strcmp(argv[i], "--build") && i + 1 < argc)
      build = argv[++i];
    else if (!std::strcmp(argv[i], "--qkvd") && i + 1 < argc)
      qkvd_bin = argv[++i];
    else {
      std::fprintf(stderr,
                   "usage: qkv_bench_daemon [--smoke] [--build DIR] [--qkvd PATH] "
                   "[--latency-only] (unknown argument '%s')\n",
                   argv[i]);
      return 2;
    }
  }
  if (qkvd_bin.empty()) qkvd_bin = build / "bin/qkvd";
  qkv::bench::print_machine();
  std::printf("\n");
  const fs::path src = QKV_SOURCE_DIR;
  char tmpl[] = "/tmp/qkvbench-XXXXXX";
  fs::path dir = ::mkdtemp(tmpl);
  struct Cleanup {
    fs::path d;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(d, ec);
    }
  } cleanup{dir};
  const int threads = 2;
  const int rtt_n = smoke ? 2000 : 40000, clients32 = smoke ? 4 : 32;
  const std::size_t big_bytes = latency_only ? 0 : smoke ? (2u << 20) : (96u << 20);
  const int cancels = latency_only ? 0 : smoke ? 2 : 7;
  const int job_reps = latency_only ? 0 : smoke ? 1 : 3;

  // The large input: the sample corpora repeated.
  fs::path big = dir / "big.jsonl";
  {
    std::string all;
    for (auto* f : {"en.jsonl", "code.jsonl", "ru.jsonl", "zh.jsonl", "ja.jsonl"}) {
      std::ifstream in(src / "tests/data/corpus" / f, std::ios::binary);
      all.append(std::istreambuf_iterator<char>(in), {});
    }
    std::ofstream out(big, std::ios::binary);
    for (std::size_t n = 0; n < big_bytes; n += all.size()) out << all;
  }
  std::string socket = (dir / "qkvd.sock").string();
  std::ofstream(dir / "qkvd.yaml")
      << "socket: " << socket << "\nspool: " << (dir / "spool").string()
      << "\npipelines_dir: " << (src / "configs/pipelines").string()
      << "\ndefault_pipeline: tokenize-gpt2\nthreads: " << threads << "\nroots: {input: ["
      << dir.string() << "], output: [" << dir.string() << "]}\n";
  fs::path log = dir / "qkvd.log";
  Process qkvd({qkvd_bin.string(), "--config", (dir / "qkvd.yaml").string()}, log);
  if (!wait_for_socket(socket, 30s)) {
    std::fprintf(stderr, "qkvd did not start; log: %s\n", log.c_str());
    return 1;
  }
  const std::string run_req = R"({"op":"run","pipeline":"tokenize-gpt2","texts":["Hello world"]})"
                              "\n";
  {  // correctness first, and warm-up of the pipeline
    auto c = qkv::ctl::Client::connect(socket);
    auto r = c.call(json::parse(run_req));
    if (r["results"] != json::parse("[[15496,995]]")) {
      std::fprintf(stderr, "unexpected reply: %s\n", r.dump().c_str());
      return 1;
    }
  }
  auto q1 = round_trips([&] { return connect_unix(socket); }, run_req, "\n", 1, rtt_n);
  auto q32 = round_trips([&] { return connect_unix(socket); }, run_req, "\n", clients32, rtt_n);

  // Redis PING over a Unix socket, same client loop.
  std::vector<double> r1, r32;
  bool redis = false;
  if (!smoke && ::access("/usr/bin/redis-server", X_OK) == 0) {
    std::string rsock = (dir / "redis.sock").string();
    Process rs({"/usr/bin/redis-server", "--port", "0", "--unixsocket", rsock, "--save", "",
                "--appendonly", "no", "--dir", dir.string()},
               dir / "redis.log");
    if (wait_for_socket(rsock, 10s)) {
      r1 = round_trips([&] { return connect_unix(rsock); }, "PING\r\n", "+PONG\r\n", 1, rtt_n);
      r32 = round_trips([&] { return connect_unix(rsock); }, "PING\r\n", "+PONG\r\n", clients32,
                        rtt_n);
      redis = true;
    }
  }

  // Large tokenize job: qkvd run in-process vs submit + wait through the daemon.
  std::vector<double> inproc, daemon_job;
  for (int rep = 0; rep < job_reps; ++rep) {
    auto t0 = Clock::now();
    Process run(
        {qkvd_bin.string(), "--config", (dir / "qkvd.yaml").string(), "run", "--pipeline",
         "tokenize-gpt2", "--input", big.string(), "--output", (dir / "inproc.jsonl").string()},
        dir / "run.log");
    if (run.wait() != 0) {
      std::fprintf(stderr, "qkvd run failed, see %s\n", (dir / "run.log").c_str());
      return 1;
    }
    inproc.push_back(seconds_since(t0));
    auto c = qkv::ctl::Client::connect(socket);
    t0 = Clock::now();
    auto sub = c.call({{"op", "submit"},
                       {"pipeline", "tokenize-gpt2"},
                       {"inputs", {big.string()}},
                       {"output", (dir / "daemon.jsonl").string()}});
    auto end = wait_end(c, sub.value("id", ""));
    daemon_job.push_back(seconds_since(t0));
    if (end["job"]["state"] != "done") {
      std::fprintf(stderr, "daemon job failed: %s\n", end.dump().c_str());
      return 1;
    }
  }
  bool same = latency_only || [&] {
    std::ifstream a(dir / "inproc.jsonl", std::ios::binary),
        b(dir / "daemon.jsonl", std::ios::binary);
    return std::equal(std::istreambuf_iterator<char>(a), {}, std::istreambuf_iterator<char>(b), {});
  }();

  // Cancel latency: cancel request sent -> end event received.
  std::vector<double> cancel_ms;
  for (int i = 0; i < cancels; ++i) {
    auto c = qkv::ctl::Client::connect(socket);
    auto sub = c.call({{"op", "submit"},
                       {"pipeline", "tokenize-gpt2"},
                       {"inputs", {big.string()}},
                       {"output", (dir / "cancelled.jsonl").string()}});
    std::string id = sub.value("id", "");
    auto w = qkv::ctl::Client::connect(socket);
    w.send({{"op", "wait"}, {"id", id}, {"interval_ms", 10}});
    for (;;) {  // until it is running and has made progress
      auto ev = w.read_json();
      if (ev.value("state", "") == "running" && ev["progress"].value("bytes_done", 0) > 0) break;
    }
    auto t0 = Clock::now();
    c.call({{"op", "cancel"}, {"id", id}});
    for (;;) {
      auto ev = w.read_json();
      if (ev.value("event", "") == "end") break;
    }
    cancel_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  qkvd.stop();

  // The table.
  auto us = [](double v) { return fmt("%.1f µs", v); };
  std::printf(
      "qkvd daemon bench%s: %d threads, inline text \"Hello world\" (tokenize-gpt2), %d round "
      "trips per row\n\n",
      smoke ? " (smoke)" : "", threads, rtt_n);
  std::printf("| measure | qkvd | Redis PING | ratio | target |\n|---|---|---|---|---|\n");
  auto row = [&](const char* name, const std::vector<double>& q, const std::vector<double>& r,
                 double p) {
    double a = percentile(q, p), b = percentile(r, p);
    std::printf("| %s | %s | %s | %s | %s |\n", name, us(a).c_str(), redis ? us(b).c_str() : "-",
                redis ? fmt("%.2fx", a / b).c_str() : "-",
                p == 0.5 ? "p50 ≤ 1.5x Redis (issue 17)" : "-");
  };
  row("inline run p50, 1 client", q1, r1, 0.5);
  row("inline run p99, 1 client", q1, r1, 0.99);
  std::string c32 = std::to_string(clients32);
  row(("inline run p50, " + c32 + " clients").c_str(), q32, r32, 0.5);
  row(("inline run p99, " + c32 + " clients").c_str(), q32, r32, 0.99);
  if (latency_only) return 0;
  double ip = percentile(inproc, 0.5), dj = percentile(daemon_job, 0.5);
  std::printf("\n| large tokenize job (%.0f MB, median of %d) | seconds | MB/s |\n|---|---|---|\n",
              double(big_bytes) / 1e6, job_reps);
  std::printf("| `qkvd run` in-process (process start to exit) | %.2f | %.1f |\n", ip,
              double(big_bytes) / 1e6 / ip);
  std::printf("| through the daemon (submit to end event) | %.2f | %.1f |\n", dj,
              double(big_bytes) / 1e6 / dj);
  std::printf("| daemon overhead (target ≤ 10%%) | %+.1f%% | outputs identical: %s |\n",
              (dj / ip - 1) * 100, same ? "yes" : "NO");
  std::printf("\n| cancel latency (%d runs) | median | max |\n|---|---|---|\n", cancels);
  std::printf("| cancel request -> job ended (target < 100 ms) | %.1f ms | %.1f ms |\n",
              percentile(cancel_ms, 0.5), *std::max_element(cancel_ms.begin(), cancel_ms.end()));
  return same ? 0 : 1;
}
