// The service side: systemd notifications, SIGHUP reload during jobs, a reload whose plugin
// fails to load, SIGTERM drain (within and past its deadline).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace qkv::test {
namespace {

using json = nlohmann::json;

// A NOTIFY_SOCKET stand-in: collects the datagrams qkvd sends.
class NotifyListener {
 public:
  explicit NotifyListener(const fs::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("bind notify");
    timeval tv{0, 100000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    reader_ = std::thread([this] {
      char buf[4096];
      while (!stop_) {
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) {
          std::lock_guard l(m_);
          messages_.emplace_back(buf, std::size_t(n));
        }
      }
    });
  }
  ~NotifyListener() {
    stop_ = true;
    reader_.join();
    ::close(fd_);
  }
  int count(const std::string& needle) {
    std::lock_guard l(m_);
    int n = 0;
    for (auto& msg : messages_) n += msg.find(needle) != std::string::npos;
    return n;
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread reader_;
  std::mutex m_;
  std::vector<std::string> messages_;
};

json wait_end(ctl::Client& c, const std::string& id) {
  c.send({{"op", "wait"}, {"id", id}, {"interval_ms", 1000}});
  json end;
  do {
    end = c.read_json(60s);
    if (!end.value("ok", true)) throw std::runtime_error("wait: " + end.dump());
  } while (end.value("event", "") != "end");
  return end;
}

std::string submit(Daemon& d, const Rig& s, const std::string& pipeline, const std::string& name) {
  auto r = d.client().call({{"op", "submit"},
                            {"pipeline", pipeline},
                            {"inputs", {(s.in / name).string()}},
                            {"output", (s.out / name).string()}});
  if (!r.value("ok", false)) throw std::runtime_error(r.dump());
  return r["id"];
}

TEST(DaemonLifecycle, SighupDuringJobsReloadsWhileRunningJobsFinish) {
  Rig s;
  NotifyListener notify(s.dir.path / "notify.sock");
  Daemon d(s);
  d.start({{"NOTIFY_SOCKET", notify.path()}});
  EXPECT_TRUE(eventually([&] { return notify.count("READY=1") == 1; }, 5s));
  std::vector<std::string> texts(400, "reload me");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    write_text(s.in / (std::to_string(i) + ".jsonl"), jsonl_of(texts));
    ids.push_back(submit(d, s, "slow", std::to_string(i) + ".jsonl"));
  }
  ASSERT_TRUE(eventually([&] {
    return d.client().call({{"op", "stats"}})["jobs"]["running"] == 2;
  }));
  // The pipeline changes on disk: jobs that started keep what they started with.
  s.write_pipeline(
      "slow", "tokenizer: {plugin: test-bytes, config: {delay_us: 1}}\noutput: {format: jsonl}\n");
  d.signal(SIGHUP);
  EXPECT_TRUE(eventually(
      [&] { return notify.count("RELOADING=1") == 1 && notify.count("READY=1") == 2; }, 10s));
  d.signal(SIGHUP);
  for (auto& id : ids) {
    auto c = d.client();
    auto end = wait_end(c, id);
    EXPECT_EQ(end["job"]["state"], "done") << id << ": " << end.dump();
  }
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(read_text(s.out / (std::to_string(i) + ".jsonl")), bytes_ids_jsonl(texts));
  EXPECT_NE(d.log().find("reloaded"), std::string::npos);
  EXPECT_EQ(d.client().call({{"op", "stats"}})["runner_generation"], 3);
}

TEST(DaemonLifecycle, APluginThatFailsToLoadAtReloadKeepsTheOldOnes) {
  Rig s("", 2000, /*copy_plugins=*/true);
  Daemon d(s);
  d.start();
  auto run_ok = [&] {
    auto r = d.client().call({{"op", "run"}, {"pipeline", "bytes"}, {"texts", {"hi"}}});
    return r.value("ok", false) && r["results"] == json::parse("[[104,105]]");
  };
  ASSERT_TRUE(run_ok());
  fs::path so;
  for (auto& e : fs::directory_iterator(s.plugins)) so = e.path();
  fs::path saved = s.dir.path / "saved.so";
  fs::copy_file(so, saved);
  write_text(so, "this is not a shared library");
  auto r = run_cmd({bin("qkvctl"), "--socket", s.socket.string(), "reload"});
  EXPECT_EQ(r.code, 4);
  EXPECT_NE(r.err.find("reload_failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("test-bytes"), std::string::npos) << r.err;
  // Old pipelines keep working: inline and file jobs.
  EXPECT_TRUE(run_ok());
  write_text(s.in / "a.jsonl", jsonl_of({"after", "failed reload"}));
  auto c = d.client();
  EXPECT_EQ(wait_end(c, submit(d, s, "bytes", "a.jsonl"))["job"]["state"], "done");
  EXPECT_EQ(read_text(s.out / "a.jsonl"), bytes_ids_jsonl({"after", "failed reload"}));
  EXPECT_EQ(d.client().call({{"op", "stats"}})["runner_generation"], 1);
  // Repaired: the reload goes through (a private copy is loaded: same path, new image).
  fs::remove(so);
  fs::copy_file(saved, so);
  r = run_cmd({bin("qkvctl"), "--socket", s.socket.string(), "--json", "reload"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["generation"], 2);
  EXPECT_TRUE(run_ok());
}

TEST(DaemonLifecycle, SigtermDrainsRunningJobsAndKeepsQueuedOnes) {
  Rig s("threads: 1\ndrain_seconds: 30\n");
  NotifyListener notify(s.dir.path / "notify.sock");
  Daemon d(s);
  d.start({{"NOTIFY_SOCKET", notify.path()}});
  write_text(s.in / "a.jsonl", jsonl_of(std::vector<std::string>(300, "drain")));  // ~0.6 s
  std::string running = submit(d, s, "slow", "a.jsonl");
  ASSERT_TRUE(eventually([&] {
    return d.client().call({{"op", "stats"}})["jobs"]["running"] == 1;
  }));
  std::string queued = submit(d, s, "slow", "a.jsonl");
  d.signal(SIGTERM);
  // No new connections once draining.
  EXPECT_TRUE(eventually([&] { return !fs::exists(s.socket); }, 5s));
  EXPECT_EQ(d.wait_exit(), 0);
  EXPECT_GE(notify.count("STOPPING=1"), 1);
  EXPECT_TRUE(fs::exists(s.spool / "done" / (running + ".report.json")));
  EXPECT_TRUE(fs::exists(s.spool / "incoming" / (queued + ".json")))
      << "the queued job waits for the next start";
  d.start();
  auto c = d.client();
  EXPECT_EQ(wait_end(c, queued)["job"]["state"], "done");
}

TEST(DaemonLifecycle, DrainPastItsDeadlineGivesTheJobBackForTheNextStart) {
  Rig s("drain_seconds: 1\n");
  Daemon d(s);
  d.start();
  std::vector<std::string> texts(2500, "long");  // ~5 s
  write_text(s.in / "long.jsonl", jsonl_of(texts));
  std::string id = submit(d, s, "slow", "long.jsonl");
  ASSERT_TRUE(eventually([&] {
    return d.client().call({{"op", "stats"}})["jobs"]["running"] == 1;
  }));
  auto t0 = std::chrono::steady_clock::now();
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
  EXPECT_TRUE(fs::exists(s.spool / "incoming" / (id + ".json")));
  EXPECT_TRUE(fs::is_empty(s.spool / "crashes")) << "a drain is no crash";
  EXPECT_FALSE(fs::exists(s.out / "long.jsonl"));
  d.start();
  auto c = d.client();
  EXPECT_EQ(wait_end(c, id)["job"]["state"], "done");
  EXPECT_EQ(read_text(s.out / "long.jsonl"), bytes_ids_jsonl(texts));
}

}  // namespace
}  // namespace qkv::test
