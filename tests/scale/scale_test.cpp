// Scale-out over Redis Streams (issue 16, docs/scale-out.md): three real qkvd workers as
// separate processes share one consumer group on a redis-server this test starts on a Unix
// socket in its temp folder. Every wait polls a condition with a deadline.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "harness.hpp"
#include "redis_server.hpp"

namespace qkv::test {
namespace {

using json = nlohmann::json;
using Fields = std::map<std::string, std::string>;
constexpr const char* kStream = "qkv:jobs";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

struct Cluster {
  explicit Cluster(int n, long slow_delay_us = 2000) : redis(dir.path) {
    for (int i = 0; i < n; ++i) {
      std::string yaml = "threads: 1\nsources:\n  redis: {url: \"" + redis.url() +
                         "\", consumer: w" + std::to_string(i) +
                         ", heartbeat_seconds: 1, claim_idle_seconds: 2, max_deliveries: 5}\n";
      rigs.push_back(std::make_unique<Rig>(yaml, slow_delay_us));
      // Every worker mounts the same input and output folders (those of worker 0).
      Rig& r = *rigs.back();
      std::string text = read_text(r.config);
      text = replace_all(text, r.in.string() + ",", in().string() + ",");
      text = replace_all(text, r.out.string() + "]", out().string() + "]");
      write_text(r.config, text);
      workers.push_back(std::make_unique<Daemon>(r));
    }
  }
  void start_all() {
    for (auto& w : workers) w->start();
  }
  const fs::path& in() const { return rigs.front()->in; }
  const fs::path& out() const { return rigs.front()->out; }

  std::string add_job(const json& job) {
    return redis.cmd({"XADD", kStream, "*", "job", job.dump()}).str;
  }
  std::vector<Fields> results() {
    std::vector<Fields> out;
    auto r = redis.cmd({"XRANGE", std::string(kStream) + ":results", "-", "+"});
    for (auto& e : r.elements) {
      Fields f;
      auto& kv = e.elements[1].elements;
      for (std::size_t i = 0; i + 1 < kv.size(); i += 2) f[kv[i].str] = kv[i + 1].str;
      out.push_back(f);
    }
    return out;
  }
  std::vector<Fields> results_for(const std::string& entry) {
    std::vector<Fields> out;
    for (auto& f : results())
      if (f["id"] == "redis-" + entry) out.push_back(f);
    return out;
  }
  long long pending() { return redis.cmd({"XPENDING", kStream, "qkv"}).elements.at(0).integer; }
  // The consumer XPENDING names for an entry ("" when none).
  std::string owner(const std::string& entry) {
    try {
      auto r = redis.cmd({"XPENDING", kStream, "qkv", entry, entry, "1"});
      return r.elements.empty() ? "" : r.elements[0].elements[1].str;
    } catch (const std::exception&) {
      return "";  // no group yet
    }
  }
  // AtomicFile temporaries (".<name>.tmp-...") left in the output folder.
  std::vector<std::string> temporaries() {
    std::vector<std::string> out;
    for (auto& e : fs::directory_iterator(this->out()))
      if (e.path().filename().string().find(".tmp-") != std::string::npos)
        out.push_back(e.path().filename().string());
    return out;
  }
  // Writes `n` documents into in/<name>.jsonl; returns their texts.
  std::vector<std::string> write_input(const std::string& name, int n) {
    std::vector<std::string> texts;
    for (int i = 0; i < n; ++i) texts.push_back(name + " document " + std::to_string(i));
    write_text(in() / (name + ".jsonl"), jsonl_of(texts));
    return texts;
  }
  json job(const std::string& name, const std::string& pipeline = "bytes") {
    return {{"pipeline", pipeline},
            {"inputs", {(in() / (name + ".jsonl")).string()}},
            {"output", (out() / (name + ".jsonl")).string()}};
  }
  int index_of(const std::string& consumer) { return std::stoi(consumer.substr(1)); }

  TempDir dir;
  RedisServer redis;
  std::vector<std::unique_ptr<Rig>> rigs;
  std::vector<std::unique_ptr<Daemon>> workers;
};

TEST(RedisScale, SixtyFourJobsOverThreeWorkersEachEndExactlyOnce) {
  Cluster c(3);
  c.start_all();
  std::map<std::string, std::vector<std::string>> texts;  // entry -> its documents
  for (int i = 0; i < 64; ++i) {
    std::string name = "part-" + std::to_string(i);
    auto t = c.write_input(name, 5 + i % 7);
    texts[c.add_job(c.job(name))] = t;
  }
  // Bad input is an end too, with a reason naming the field, and the workers keep serving.
  std::string bad = c.redis.cmd({"XADD", kStream, "*", "job", "{not json"}).str;
  ASSERT_TRUE(eventually([&] { return c.results().size() >= 65; }, 60s))
      << c.results().size() << " results";
  std::set<std::string> workers_used;
  for (auto& [entry, t] : texts) {
    auto r = c.results_for(entry);
    ASSERT_EQ(r.size(), 1u) << entry;
    EXPECT_EQ(r[0]["state"], "done") << entry << " " << r[0]["error"];
    EXPECT_EQ(r[0]["documents"], std::to_string(t.size()));
    workers_used.insert(r[0]["worker"]);
  }
  for (int k = 0; k < 64; ++k) {
    std::string name = "part-" + std::to_string(k);
    std::vector<std::string> t;
    for (int d = 0; d < 5 + k % 7; ++d) t.push_back(name + " document " + std::to_string(d));
    EXPECT_EQ(read_text(c.out() / (name + ".jsonl")), bytes_ids_jsonl(t)) << name;
    auto manifest = json::parse(read_text(c.out() / (name + ".manifest.json")));
    EXPECT_EQ(manifest["documents"], t.size());
  }
  auto b = c.results_for(bad);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0]["state"], "failed");
  EXPECT_NE(b[0]["error"].find("field 'job' is not valid JSON"), std::string::npos)
      << b[0]["error"];
  EXPECT_EQ(c.results().size(), 65u);
  EXPECT_EQ(c.pending(), 0);
  EXPECT_EQ(c.redis.cmd({"XLEN", kStream}).integer, 0) << "job entries are deleted after the ack";
  EXPECT_EQ(c.temporaries(), std::vector<std::string>{});
  std::cerr << "workers that ran jobs: " << workers_used.size() << "\n";
}

// A job long enough to be caught running: 400 documents at 5 ms each on one thread.
TEST(RedisScale, KilledWorkersEntryIsTakenOverAndFinishedByAnother) {
  Cluster c(3, 5000);
  c.start_all();
  auto texts = c.write_input("long", 400);
  std::string entry = c.add_job(c.job("long", "slow"));
  std::string victim;
  ASSERT_TRUE(eventually([&] { return !(victim = c.owner(entry)).empty(); }));
  c.workers[c.index_of(victim)]->kill9();
  ASSERT_TRUE(eventually([&] { return !c.results_for(entry).empty(); }, 60s));
  auto r = c.results_for(entry);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["state"], "done") << r[0]["error"];
  EXPECT_NE(r[0]["worker"], victim);
  EXPECT_EQ(read_text(c.out() / "long.jsonl"), bytes_ids_jsonl(texts));
  EXPECT_EQ(c.pending(), 0);
  EXPECT_EQ(c.temporaries(), std::vector<std::string>{}) << "the victim's temporaries stay";
}

TEST(RedisScale, StoppedWorkerPastClaimIdleRecordsNoSecondEnd) {
  Cluster c(3, 5000);
  c.start_all();
  auto texts = c.write_input("long", 400);
  std::string entry = c.add_job(c.job("long", "slow"));
  std::string victim;
  ASSERT_TRUE(eventually([&] { return !(victim = c.owner(entry)).empty(); }));
  Daemon& late = *c.workers[c.index_of(victim)];
  late.signal(SIGSTOP);
  ASSERT_TRUE(eventually([&] { return !c.results_for(entry).empty(); }, 60s));
  EXPECT_NE(c.results_for(entry)[0]["worker"], victim);
  late.signal(SIGCONT);
  // The late worker notices (heartbeat: the entry is another's) or, had it finished first,
  // finds the end recorded; either way it records nothing.
  ASSERT_TRUE(eventually([&] {
    std::string log = late.log();
    return log.find("records nothing") != std::string::npos ||
           log.find("already recorded") != std::string::npos;
  }));
  ASSERT_TRUE(eventually([&] { return c.temporaries().empty(); })) << c.temporaries().size();
  auto r = c.results_for(entry);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["state"], "done");
  EXPECT_EQ(read_text(c.out() / "long.jsonl"), bytes_ids_jsonl(texts));
  EXPECT_EQ(c.pending(), 0);
  // Still serving: a new entry is taken and ended once.
  c.write_input("after", 3);
  std::string next = c.add_job(c.job("after"));
  ASSERT_TRUE(eventually([&] { return c.results_for(next).size() == 1; }));
}

TEST(RedisScale, RedisShutdownAndRestartWithAofLosesNothing) {
  Cluster c(3, 5000);
  c.start_all();
  std::map<std::string, std::vector<std::string>> jobs;
  for (int i = 0; i < 6; ++i) {
    std::string name = "r" + std::to_string(i);
    auto t = c.write_input(name, 100);
    jobs[c.add_job(c.job(name, "slow"))] = t;
  }
  ASSERT_TRUE(eventually([&] { return !c.results().empty(); }, 60s));
  c.redis.shutdown();
  // The workers see it (and back off) before Redis comes back.
  ASSERT_TRUE(eventually([&] {
    for (auto& w : c.workers)
      if (w->log().find("cannot reach Redis") != std::string::npos ||
          w->log().find("Connection reset") != std::string::npos ||
          w->log().find("Server closed") != std::string::npos)
        return true;
    return false;
  }));
  c.redis.start();
  ASSERT_TRUE(eventually([&] { return c.results().size() >= 6; }, 90s)) << c.results().size();
  for (auto& [entry, t] : jobs) {
    auto r = c.results_for(entry);
    ASSERT_EQ(r.size(), 1u) << entry;
    EXPECT_EQ(r[0]["state"], "done") << r[0]["error"];
  }
  for (int i = 0; i < 6; ++i) {
    std::string name = "r" + std::to_string(i);
    std::vector<std::string> t;
    for (int d = 0; d < 100; ++d) t.push_back(name + " document " + std::to_string(d));
    EXPECT_EQ(read_text(c.out() / (name + ".jsonl")), bytes_ids_jsonl(t)) << name;
  }
  EXPECT_EQ(c.results().size(), 6u);
  ASSERT_TRUE(eventually([&] { return c.pending() == 0; }));
  EXPECT_EQ(c.temporaries(), std::vector<std::string>{});
}

TEST(RedisScale, EntryDeliveredTooOftenGoesToDeadLetters) {
  Cluster c(1);
  c.write_input("poison", 3);
  // Before any worker runs: the entry already failed five deliveries (a worker that died on it
  // each time), as XPENDING counts them.
  c.redis.cmd({"XGROUP", "CREATE", kStream, "qkv", "0", "MKSTREAM"});
  std::string entry = c.add_job(c.job("poison"));
  c.redis.cmd({"XREADGROUP", "GROUP", "qkv", "ghost", "COUNT", "1", "STREAMS", kStream, ">"});
  c.redis.cmd({"XCLAIM", kStream, "qkv", "ghost", "0", entry, "RETRYCOUNT", "5"});
  c.start_all();
  ASSERT_TRUE(eventually([&] {
    return c.redis.cmd({"XLEN", std::string(kStream) + ":dead"}).integer == 1;
  }));
  auto dead = c.redis.cmd({"XRANGE", std::string(kStream) + ":dead", "-", "+"});
  const auto* reason = dead.elements.at(0).elements.at(1).field("reason");
  ASSERT_NE(reason, nullptr);
  EXPECT_NE(reason->str.find("max_deliveries"), std::string::npos) << reason->str;
  EXPECT_EQ(dead.elements.at(0).elements.at(1).field("id")->str, entry);
  EXPECT_NE(dead.elements.at(0).elements.at(1).field("job"), nullptr) << "the entry is kept";
  EXPECT_EQ(c.pending(), 0);
  EXPECT_TRUE(c.results_for(entry).empty());
  EXPECT_FALSE(fs::exists(c.out() / "poison.jsonl"));
}

// SIGTERM: the running job drains and records its end; entries taken but not started go back to
// the stream at once (not after claim_idle_seconds) and another worker runs them.
TEST(RedisScale, DrainingWorkerGivesUnstartedEntriesBack) {
  Cluster c(2, 5000);
  c.workers[0]->start();
  std::map<std::string, std::vector<std::string>> texts;  // output name -> documents
  for (int i = 0; i < 3; ++i) {
    std::string name = "d" + std::to_string(i);
    texts[name] = c.write_input(name, 400);  // 2 s each: SIGTERM comes while the first runs
    c.add_job(c.job(name, "slow"));
  }
  ASSERT_TRUE(eventually([&] { return c.pending() == 3; })) << "worker 0 takes all three";
  c.workers[0]->signal(SIGTERM);
  EXPECT_EQ(c.workers[0]->wait_exit(60s), 0);
  EXPECT_EQ(c.pending(), 0);
  EXPECT_EQ(c.results().size(), 1u) << "the running job ended, the others were not started";
  EXPECT_EQ(c.redis.cmd({"XLEN", kStream}).integer, 2) << "given back as fresh entries";
  c.workers[1]->start();
  ASSERT_TRUE(eventually([&] { return c.results().size() == 3; }, 60s));
  for (auto& r : c.results()) EXPECT_EQ(r["state"], "done") << r["error"];
  for (auto& [name, t] : texts)
    EXPECT_EQ(read_text(c.out() / (name + ".jsonl")), bytes_ids_jsonl(t)) << name;
  EXPECT_EQ(c.pending(), 0);
}

// A socket submit with "queue": "redis" to one worker, `wait` and `status` on another.
TEST(RedisScale, QueueRedisSubmitIsSeenByEveryWorker) {
  Cluster c(2);
  c.start_all();
  auto texts = c.write_input("via-socket", 20);
  auto sub = run_cmd({bin("qkvctl"), "--socket", c.rigs[1]->socket.string(), "submit", "--queue",
                      "redis", (c.in() / "via-socket.jsonl").string(), "-o",
                      (c.out() / "via-socket.jsonl").string()});
  ASSERT_EQ(sub.code, 0) << sub.err << sub.out;
  std::string id = sub.out.substr(0, sub.out.find('\n'));
  ASSERT_EQ(id.substr(0, 6), "redis-") << sub.out;
  auto waited = run_cmd({bin("qkvctl"), "--socket", c.rigs[0]->socket.string(), "wait", id});
  EXPECT_EQ(waited.code, 0) << waited.err << waited.out;
  for (auto& rig : c.rigs) {
    auto st = run_cmd({bin("qkvctl"), "--json", "--socket", rig->socket.string(), "status", id});
    ASSERT_EQ(st.code, 0) << st.err;
    auto j = json::parse(st.out.substr(0, st.out.find('\n')));
    EXPECT_EQ(j["job"]["state"], "done") << st.out;
    EXPECT_EQ(j["job"]["submitted_by"]["via"], "unix") << "the accepting worker's proof";
  }
  EXPECT_EQ(read_text(c.out() / "via-socket.jsonl"), bytes_ids_jsonl(texts));
  auto stats = c.workers[0]->client().call({{"v", 1}, {"op", "stats"}});
  EXPECT_EQ(stats["sources"]["redis"]["consumer"], "w0") << stats.dump();
  // A worker without a Redis source refuses the queue by name and keeps serving.
  Rig plain;
  Daemon d(plain);
  d.start();
  auto no =
      run_cmd({bin("qkvctl"), "--socket", plain.socket.string(), "submit", "--queue", "redis",
               (c.in() / "via-socket.jsonl").string(), "-o", (plain.out / "x.jsonl").string()});
  EXPECT_EQ(no.code, 4) << no.out;
  EXPECT_NE((no.err + no.out).find("sources.redis"), std::string::npos) << no.err << no.out;
  EXPECT_EQ(run_cmd({bin("qkvctl"), "--socket", plain.socket.string(), "health"}).code, 0);
}

TEST(RedisScale, ConfigRefusesTlsUrlsAndTooShortClaimIdle) {
  TempDir d;
  auto refused = [&](const std::string& redis_yaml) {
    Rig r("sources:\n  redis: " + redis_yaml + "\n");
    return run_cmd({bin("qkvd"), "--config", r.config.string()});
  };
  auto tls = refused("{url: \"rediss://10.0.0.1:6379\"}");
  EXPECT_NE(tls.code, 0);
  EXPECT_NE(tls.err.find("sources.redis.url"), std::string::npos) << tls.err;
  EXPECT_NE(tls.err.find("TLS"), std::string::npos) << tls.err;
  auto idle =
      refused("{url: \"redis://127.0.0.1:6379\", heartbeat_seconds: 5, claim_idle_seconds: 9}");
  EXPECT_NE(idle.code, 0);
  EXPECT_NE(idle.err.find("sources.redis.claim_idle_seconds"), std::string::npos) << idle.err;
  EXPECT_NE(idle.err.find("2 x heartbeat_seconds"), std::string::npos) << idle.err;
}

}  // namespace
}  // namespace qkv::test
