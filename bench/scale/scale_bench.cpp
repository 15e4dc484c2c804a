// Scale-out benchmark (issue 16, docs/scale-out.md), measured interleaved in one run:
//  1. per-job overhead of small jobs: submit -> end through the local spool (socket submit +
//     wait) against XADD -> result entry through Redis, on the same qkvd; p50 and p90;
//  2. throughput of one job in 8 shards (`shards: 8`): one qkvd with 2 threads through its
//     spool (local) against two qkvd with 1 thread each through one Redis stream (distributed).
//   qkv_bench_scale [--smoke] [--build DIR] [--prefetch N]   (starts redis-server and qkvd;
//   --prefetch: sources.redis.prefetch of the two distributed workers, default 0)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctl/client.hpp"
#include "jobs/redis/redis_client.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using qkv::jobs::redis::Client;
using qkv::jobs::redis::Reply;

// A child process (qkvd or redis-server) with its output in `log`; SIGTERM at the end.
class Child {
 public:
  Child(std::vector<std::string> args, const fs::path& log) {
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      std::FILE* f = std::freopen(log.c_str(), "a", stdout);
      if (f) ::dup2(::fileno(stdout), 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Child() {
    ::kill(pid_, SIGTERM);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

 private:
  pid_t pid_ = -1;
};

template <class F>
bool poll_until(F f, std::chrono::seconds limit) {
  auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    try {
      if (f()) return true;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, std::size_t(p * double(v.size())))];
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Worker {
  std::string socket;
  std::unique_ptr<Child> process;
};

// A qkvd with `threads` threads; with a Redis source when `redis_url` is not empty.
Worker start_qkvd(const fs::path& build, const fs::path& src, const fs::path& dir,
                  const std::string& name, int threads, const std::string& redis_url,
                  int prefetch = 0) {
  fs::path home = dir / name;
  fs::create_directories(home);
  Worker w;
  w.socket = (home / "qkvd.sock").string();
  std::ofstream cfg(home / "qkvd.yaml");
  cfg << "socket: " << w.socket << "\nspool: " << (home / "spool").string()
      << "\npipelines_dir: " << (src / "configs/pipelines").string()
      << "\ndefault_pipeline: tokenize-gpt2\nthreads: " << threads << "\nroots: {input: ["
      << dir.string() << "], output: [" << dir.string() << "]}\n";
  if (!redis_url.empty())
    cfg << "sources:\n  redis: {url: \"" << redis_url << "\", consumer: " << name
        << ", prefetch: " << prefetch << "}\n";
  cfg.close();
  w.process =
      std::make_unique<Child>(std::vector<std::string>{(build / "bin/qkvd").string(), "--config",
                                                       (home / "qkvd.yaml").string()},
                              home / "qkvd.log");
  if (!poll_until(
          [&] {
            return qkv::ctl::Client::connect(w.socket).call({{"op", "health"}})["ok"] == true;
          },
          60s))
    throw std::runtime_error("qkvd " + name + " did not start; see " +
                             (home / "qkvd.log").string());
  return w;
}

json local_job(qkv::ctl::Client& c, const fs::path& in, const fs::path& out) {
  auto sub = c.call({{"op", "submit"}, {"inputs", {in.string()}}, {"output", out.string()}});
  if (sub.value("ok", false) != true) throw std::runtime_error("submit: " + sub.dump());
  return sub;
}

json wait_end(qkv::ctl::Client& c, const std::string& id) {
  c.send({{"op", "wait"}, {"id", id}, {"interval_ms", 1000}});
  for (;;) {
    json j = c.read_json();
    if (j.value("event", "") != "progress") return j;
  }
}

std::string xadd(Client& r, const fs::path& in, const fs::path& out) {
  json job = {{"inputs", {in.string()}}, {"output", out.string()}};
  return r.command({"XADD", "qkv:jobs", "*", "job", job.dump()}).str;
}

// Blocks until `n` more result entries arrived after `last` (advanced); returns their states.
std::vector<std::string> read_results(Client& r, std::string& last, std::size_t n) {
  std::vector<std::string> states;
  while (states.size() < n) {
    Reply got = r.command({"XREAD", "BLOCK", "30000", "STREAMS", "qkv:jobs:results", last});
    if (got.is_nil()) throw std::runtime_error("no result within 30 s");
    for (auto& e : got.elements.at(0).elements.at(1).elements) {
      last = e.elements.at(0).str;
      const Reply* s = e.elements.at(1).field("state");
      states.push_back(s ? s->str : "?");
    }
  }
  return states;
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace

int main(int argc, char** argv) try {
  bool smoke = false;
  int prefetch = 0;  // sources.redis.prefetch of the distributed workers
  fs::path build = fs::path(QKV_BINARY_DIR), src = fs::path(QKV_SOURCE_DIR);
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--smoke"))
      smoke = true;
    else if (!std::strcmp(argv[i], "--build") && i + 1 < argc)
      build = argv[++i];
    else if (!std::strcmp(argv[i], "--prefetch") && i + 1 < argc)
      prefetch = std::atoi(argv[++i]);
  }
  char tmpl[] = "/tmp/qkvscale-XXXXXX";
  fs::path dir = ::mkdtemp(tmpl);
  struct Cleanup {
    fs::path d;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(d, ec);
    }
  } cleanup{dir};
  const int small_jobs = smoke ? 5 : 41;
  const std::size_t part_bytes = smoke ? (256u << 10) : (12u << 20);
  const int parts = 8;

  std::string corpus;
  for (auto* f : {"en.jsonl", "code.jsonl", "ru.jsonl", "zh.jsonl", "ja.jsonl"}) {
    std::ifstream in(src / "tests/data/corpus" / f, std::ios::binary);
    corpus.append(std::istreambuf_iterator<char>(in), {});
  }
  {
    std::ofstream small(dir / "small.jsonl");
    for (int i = 0; i < 10; ++i)
      small << json{{"text", "a small job, document " + std::to_string(i)}}.dump() << "\n";
  }
  {
    std::ofstream out(dir / "big.jsonl", std::ios::binary);
    for (std::size_t n = 0; n < parts * part_bytes; n += corpus.size()) out << corpus;
  }

  const std::string rsock = (dir / "redis.sock").string();
  Child redis({"redis-server", "--port", "0", "--unixsocket", rsock, "--dir", dir.string(),
               "--save", "", "--appendonly", "yes", "--appendfsync", "everysec"},
              dir / "redis.log");
  Client r(qkv::jobs::redis::parse_url("unix://" + rsock), {});
  if (!poll_until([&] { return r.command({"PING"}).str == "PONG"; }, 20s))
    throw std::runtime_error("redis-server did not start");

  // 1. Per-job overhead, interleaved local / redis on one qkvd (2 threads, both sources).
  std::vector<double> local_s, redis_s;
  std::string last = "0-0";
  {
    Worker a = start_qkvd(build, src, dir, "a", 2, "unix://" + rsock);
    auto c = qkv::ctl::Client::connect(a.socket);
    for (int i = 0; i < small_jobs; ++i) {
      auto t0 = Clock::now();
      auto sub = local_job(c, dir / "small.jsonl", dir / "small-local.jsonl");
      auto end = wait_end(c, sub["id"]);
      if (end["job"]["state"] != "done") throw std::runtime_error("local job: " + end.dump());
      if (i) local_s.push_back(seconds_since(t0));  // the first one warms the pipeline up
      t0 = Clock::now();
      xadd(r, dir / "small.jsonl", dir / "small-redis.jsonl");
      auto states = read_results(r, last, 1);
      if (states[0] != "done") throw std::runtime_error("redis job ended " + states[0]);
      if (i) redis_s.push_back(seconds_since(t0));
    }
  }

  // 2. Throughput of one 8-shard job: local (1 qkvd x 2 threads, its spool) vs distributed
  // (2 qkvd x 1 thread, submitted with "queue": "redis" to one of them). Each qkvd runs a small
  // job through its spool first (pipeline loaded), so no shard pays the start-up.
  const json big_job = {{"inputs", {(dir / "big.jsonl").string()}}, {"shards", parts}};
  double local_t = 0, dist_t = 0;
  {
    Worker a = start_qkvd(build, src, dir, "local", 2, "");
    auto c = qkv::ctl::Client::connect(a.socket);
    wait_end(c, local_job(c, dir / "small.jsonl", dir / "warm.jsonl")["id"]);
    auto t0 = Clock::now();
    json req = big_job;
    req["op"] = "submit";
    req["output"] = (dir / "local.jsonl").string();
    auto sub = c.call(req);
    if (sub.value("ok", false) != true) throw std::runtime_error("sharded submit: " + sub.dump());
    const std::string parent = sub["id"];
    char sfx[16];
    for (int p = 0; p < parts; ++p) {  // the shards are ordinary jobs: <parent>.s00000 on
      std::snprintf(sfx, sizeof sfx, ".s%05d", p);
      auto end = wait_end(c, parent + sfx);
      if (end["job"]["state"] != "done") throw std::runtime_error("local shard: " + end.dump());
    }
    local_t = seconds_since(t0);
  }
  {
    Worker w1 = start_qkvd(build, src, dir, "w1", 1, "unix://" + rsock, prefetch);
    Worker w2 = start_qkvd(build, src, dir, "w2", 1, "unix://" + rsock, prefetch);
    for (Worker* w : {&w1, &w2}) {
      auto c = qkv::ctl::Client::connect(w->socket);
      wait_end(c, local_job(c, dir / "small.jsonl", dir / "warm.jsonl")["id"]);
    }
    auto c = qkv::ctl::Client::connect(w1.socket);
    auto t0 = Clock::now();
    json req = big_job;
    req["op"] = "submit";
    req["queue"] = "redis";
    req["output"] = (dir / "dist.jsonl").string();
    auto sub = c.call(req);
    if (sub.value("ok", false) != true) throw std::runtime_error("redis submit: " + sub.dump());
    // The shards' result entries (XREAD BLOCK: no status polling in the figure).
    for (auto& s : read_results(r, last, parts))
      if (s != "done") throw std::runtime_error("distributed shard ended " + s);
    dist_t = seconds_since(t0);
  }
  bool same = true;
  for (int p = 0; p < parts; ++p) {
    char name[64];
    std::snprintf(name, sizeof name, "-%05d-of-%05d.jsonl", p, parts);
    std::ifstream a(dir / ("local" + std::string(name)), std::ios::binary),
        b(dir / ("dist" + std::string(name)), std::ios::binary);
    same = same && a && b &&
           std::equal(std::istreambuf_iterator<char>(a), {}, std::istreambuf_iterator<char>(b), {});
  }

  std::printf(
      "qkv scale-out bench%s: tokenize-gpt2, redis-server on a Unix socket (AOF everysec), "
      "prefetch %d\n",
      smoke ? " (smoke)" : "", prefetch);
  std::printf("| measure | local spool | Redis stream | ratio |\n| --- | --- | --- | --- |\n");
  std::printf("| small job submit -> end, p50 (%zu jobs, 10 docs) | %s ms | %s ms | %s ms |\n",
              local_s.size(), fmt("%.1f", percentile(local_s, 0.5) * 1e3).c_str(),
              fmt("%.1f", percentile(redis_s, 0.5) * 1e3).c_str(),
              fmt("%+.1f", (percentile(redis_s, 0.5) - percentile(local_s, 0.5)) * 1e3).c_str());
  std::printf("| small job submit -> end, p90 | %s ms | %s ms | |\n",
              fmt("%.1f", percentile(local_s, 0.9) * 1e3).c_str(),
              fmt("%.1f", percentile(redis_s, 0.9) * 1e3).c_str());
  double mb = double(parts * part_bytes) / 1e6;
  std::printf(
      "| one %s MB job in 8 shards: 1 qkvd x 2 threads (spool) vs 2 qkvd x 1 thread (Redis) | "
      "%s MB/s | %s MB/s | %s%% |\n",
      fmt("%.1f", mb).c_str(), fmt("%.1f", mb / local_t).c_str(), fmt("%.1f", mb / dist_t).c_str(),
      fmt("%.0f", 100 * local_t / dist_t).c_str());
  std::printf("outputs identical (local vs distributed): %s\n", same ? "yes" : "NO");
  return same ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "qkv_bench_scale: %s\n", e.what());
  return 1;
}
