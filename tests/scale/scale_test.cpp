// Scale-out over Redis Streams (issue 16, docs/scale-out.md): three real qkvd workers as
// separate processes share one consumer group on a redis-server this test starts on a Unix
// socket in its temp folder. Every wait polls a condition with a deadline.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "harness.hpp"
#include "io/sha256.hpp"
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
  // `first_yaml`: more config for worker 0 only.
  // `redis_extra`: more keys of every worker's sources.redis (", key: value").
  explicit Cluster(int n, long slow_delay_us = 2000, const std::string& first_yaml = "",
                   const std::string& redis_extra = "")
      : redis(dir.path) {
    for (int i = 0; i < n; ++i) {
      std::string yaml = "threads: 1\nsources:\n  redis: {url: \"" + redis.url() +
                         "\", consumer: w" + std::to_string(i) +
                         ", heartbeat_seconds: 1, claim_idle_seconds: 2, max_deliveries: 5" +
                         redis_extra + "}\n" + (i == 0 ? first_yaml : "");
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
  // Entries delivered and not acked; 0 until a worker's first poll has created the group.
  long long pending() {
    try {
      return redis.cmd({"XPENDING", kStream, "qkv"}).elements.at(0).integer;
    } catch (const std::exception& e) {
      if (std::string_view(e.what()).find("NOGROUP") != std::string_view::npos) return 0;
      throw;
    }
  }
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
  Cluster c(2, 5000, "", ", prefetch: 2");  // it takes all three: one runs, two wait
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

// sources.redis.prefetch 0 (the default): a worker takes only what it can start at once, so the
// rest stays in the stream for an idle worker (before, a 1-thread worker took all three).
TEST(RedisScale, WorkerTakesOnlyWhatItCanStart) {
  Cluster c(2, 5000);
  c.workers[0]->start();
  for (int i = 0; i < 3; ++i) {
    std::string name = "t" + std::to_string(i);
    c.write_input(name, 200);  // 1 s each
    c.add_job(c.job(name, "slow"));
  }
  ASSERT_TRUE(eventually([&] { return c.pending() == 1; }));
  std::this_thread::sleep_for(500ms);  // five polls
  EXPECT_EQ(c.pending(), 1) << "the other two stay in the stream for an idle worker";
  c.workers[1]->start();
  ASSERT_TRUE(eventually([&] { return c.results().size() == 3; }, 60s));
  std::set<std::string> workers;
  for (auto& r : c.results()) {
    EXPECT_EQ(r["state"], "done") << r["error"];
    workers.insert(r["worker"]);
  }
  EXPECT_EQ(workers.size(), 2u) << "both workers ran some";
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

// --- Sharded jobs through Redis (docs/scale-out.md "Sharded jobs") ---------------------------

json status_of(const Rig& rig, const std::string& id) {
  auto st = run_cmd({bin("qkvctl"), "--json", "--socket", rig.socket.string(), "status", id});
  if (st.code != 0) return json::object();
  return json::parse(st.out.substr(0, st.out.find('\n')), nullptr, false).value("job", json());
}

std::vector<Fields> results_of_parent(Cluster& c, const std::string& parent) {
  std::vector<Fields> out;
  for (auto& f : c.results())
    if (f["parent"] == parent) out.push_back(f);
  return out;
}

std::string shard_name(const std::string& stem, int i, int n) {
  char name[96];
  std::snprintf(name, sizeof name, "%s-%05d-of-%05d.jsonl", stem.c_str(), i, n);
  return name;
}

// The six test corpora, copied into the shared input folder; returns their paths.
std::vector<std::string> copy_corpora(Cluster& c) {
  std::vector<std::string> inputs;
  for (const char* name : {"code", "en", "ja", "mixed_edge", "ru", "zh"}) {
    fs::path to = c.in() / (std::string(name) + ".jsonl");
    fs::copy_file(fs::path(QKV_SOURCE_DIR) / "tests/data/corpus" / (std::string(name) + ".jsonl"),
                  to);
    inputs.push_back(to.string());
  }
  return inputs;
}

TEST(RedisShard, SixtyFourShardsOverThreeWorkersConcatenateToOneQkvdRun) {
  Cluster c(3);
  c.start_all();
  auto inputs = copy_corpora(c);
  std::vector<std::string> run{
      bin("qkvd"), "--config", c.rigs[0]->config.string(),         "run", "-p",
      "bytes",     "-o",       (c.out() / "whole.jsonl").string(), "-i"};
  run.insert(run.end(), inputs.begin(), inputs.end());
  auto whole = run_cmd(run);
  ASSERT_EQ(whole.code, 0) << whole.err;
  // Accepted by worker 1, run by all three; --wait waits for the parent.
  std::vector<std::string> sub{bin("qkvctl"),
                               "--socket",
                               c.rigs[1]->socket.string(),
                               "submit",
                               "--queue",
                               "redis",
                               "-p",
                               "bytes",
                               "--shards",
                               "64",
                               "--wait",
                               "-o",
                               (c.out() / "out.jsonl").string()};
  sub.insert(sub.end(), inputs.begin(), inputs.end());
  auto s = run_cmd(sub);
  ASSERT_EQ(s.code, 0) << s.err << s.out;
  const std::string parent = s.out.substr(0, s.out.find('\n'));
  ASSERT_EQ(parent.substr(0, 7), "redis-p") << s.out;
  // Every shard ended exactly once, done, under its own id.
  auto results = results_of_parent(c, parent);
  ASSERT_EQ(results.size(), 64u);
  std::set<std::string> shards, workers_used;
  for (auto& r : results) {
    EXPECT_EQ(r["state"], "done") << r["id"] << " " << r["error"];
    EXPECT_TRUE(shards.insert(r["shard"]).second) << "shard " << r["shard"] << " ended twice";
    char id[16];
    std::snprintf(id, sizeof id, ".s%05d", std::stoi(r["shard"]));
    EXPECT_EQ(r["id"], parent + id);
    workers_used.insert(r["worker"]);
  }
  EXPECT_EQ(shards.size(), 64u);
  EXPECT_EQ(c.pending(), 0);
  EXPECT_EQ(c.redis.cmd({"XLEN", kStream}).integer, 0);
  EXPECT_EQ(c.temporaries(), std::vector<std::string>{});
  std::string joined;
  for (int i = 0; i < 64; ++i) joined += read_text(c.out() / shard_name("out", i, 64));
  EXPECT_EQ(joined, read_text(c.out() / "whole.jsonl")) << "cat of the shards = one qkvd run";
  // The parent manifest lists every shard with the checksum of its file.
  ASSERT_TRUE(eventually([&] { return fs::exists(c.out() / "out.manifest.json"); }));
  auto m = json::parse(read_text(c.out() / "out.manifest.json"));
  EXPECT_EQ(m["job_id"], parent);
  ASSERT_EQ(m["parts"].size(), 64u);
  for (int i = 0; i < 64; ++i) {
    auto& part = m["parts"][i];
    EXPECT_EQ(part["shard"], i);
    // The shard's ids and, since the corpora's records carry an "id", its OUT.ids.jsonl.
    ASSERT_EQ(part["outputs"].size(), 2u) << part.dump();
    EXPECT_EQ(part["outputs"][0]["sha256"], io::sha256_file(c.out() / shard_name("out", i, 64)))
        << i;
    const fs::path ids = part["outputs"][1]["path"].get<std::string>();
    EXPECT_EQ(ids.filename().string().find(".ids.jsonl"), ids.filename().string().size() - 10)
        << ids;
    EXPECT_EQ(part["outputs"][1]["sha256"], io::sha256_file(ids)) << i;
  }
  auto wm = json::parse(read_text(c.out() / "whole.manifest.json"));
  EXPECT_EQ(m["documents"], wm["documents"]);
  // Each shard's first_document (from the planner) is the sum of the documents the shards
  // before it read (counted by their runs, in their own manifests).
  uint64_t before = 0;
  for (int i = 0; i < 64; ++i) {
    std::string stem = shard_name("out", i, 64);
    stem = stem.substr(0, stem.size() - 6);  // no ".jsonl"
    auto sm = json::parse(read_text(c.out() / (stem + ".manifest.json")));
    EXPECT_EQ(sm.value("first_document", uint64_t{999999}), before) << "shard " << i;
    EXPECT_EQ(m["parts"][i].value("first_document", uint64_t{999999}), before) << "shard " << i;
    before += sm["documents"].get<uint64_t>();
  }
  EXPECT_EQ(before, wm["documents"].get<uint64_t>());
  // Status, on every worker, from Redis; list on a worker that did not accept it.
  for (auto& rig : c.rigs) {
    auto j = status_of(*rig, parent);
    EXPECT_EQ(j.value("state", ""), "done") << j.dump();
    EXPECT_EQ(j.value("shards", 0), 64);
    EXPECT_EQ(j["shards_ended"].value("done", 0), 64) << j.dump();
    EXPECT_EQ(j.value("pipeline_sha256", ""), io::sha256_file(rig->pipelines / "bytes.yaml"));
  }
  auto listed = c.workers[2]->client().call({{"v", 1}, {"op", "list"}});
  bool found = false;
  for (auto& j : listed["jobs"]) found = found || j.value("id", "") == parent;
  EXPECT_TRUE(found) << listed.dump();
  std::cerr << "workers that ran shards: " << workers_used.size() << "\n";
}

// Cancel on the accepting worker: queued shards end cancelled without running, running ones
// stop at a chunk boundary on whichever worker runs them.
TEST(RedisShard, CancelledParentStopsItsShards) {
  Cluster c(3, 5000);
  c.start_all();
  c.write_input("big", 16000);  // 80 s of work at 5 ms a document, 5 s a shard
  auto sub = run_cmd({bin("qkvctl"), "--socket", c.rigs[0]->socket.string(), "submit", "--queue",
                      "redis", "-p", "slow", "--shards", "16", (c.in() / "big.jsonl").string(),
                      "-o", (c.out() / "big.jsonl").string()});
  ASSERT_EQ(sub.code, 0) << sub.err << sub.out;
  const std::string parent = sub.out.substr(0, sub.out.find('\n'));
  // The first shard runs on some worker (its own status says so) before the cancel comes.
  ASSERT_TRUE(eventually([&] {
    for (auto& rig : c.rigs)
      if (status_of(*rig, parent + ".s00000").value("state", "") == "running") return true;
    return false;
  }));
  auto cancel = run_cmd({bin("qkvctl"), "--socket", c.rigs[0]->socket.string(), "cancel", parent});
  EXPECT_EQ(cancel.code, 0) << cancel.err << cancel.out;
  ASSERT_TRUE(eventually([&] { return results_of_parent(c, parent).size() == 16; }, 90s))
      << results_of_parent(c, parent).size();
  std::size_t cancelled = 0, documents = 0;
  std::set<std::string> shards;
  for (auto& r : results_of_parent(c, parent)) {
    EXPECT_TRUE(r["state"] == "cancelled" || r["state"] == "done") << r["state"] << r["error"];
    EXPECT_TRUE(shards.insert(r["shard"]).second) << "shard " << r["shard"] << " ended twice";
    if (r["state"] == "cancelled") {
      ++cancelled;
      EXPECT_FALSE(fs::exists(c.out() / shard_name("big", std::stoi(r["shard"]), 16)));
    }
    documents += std::stoul(r["documents"]);
  }
  EXPECT_GT(cancelled, 0u);
  // Shard 0 was running when the cancel came (and needs 5 s): it stopped, on whichever worker.
  for (auto& r : results_of_parent(c, parent))
    if (r["shard"] == "0") {
      EXPECT_EQ(r["state"], "cancelled") << r["worker"];
    }
  std::cerr << cancelled << " of 16 shards cancelled, " << documents << " documents done\n";
  EXPECT_LT(documents, 16000u) << "the cancel stopped nothing";
  for (auto& rig : c.rigs) EXPECT_EQ(status_of(*rig, parent).value("state", ""), "cancelled");
  EXPECT_EQ(c.pending(), 0);
  EXPECT_EQ(c.redis.cmd({"XLEN", kStream}).integer, 0) << "queued shards are acked";
  ASSERT_TRUE(eventually([&] { return c.temporaries().empty(); }));
  EXPECT_FALSE(fs::exists(c.out() / "big.manifest.json"));
}

// A shard entry whose pipeline file hashes differently on the worker that takes it: not run,
// dead-lettered with the reason, and its parent fails.
TEST(RedisShard, PipelineSha256MismatchGoesToDeadLetters) {
  Cluster c(2, 5000);
  c.write_input("p", 400);  // 8 shards of 50 documents, 250 ms each
  // Worker 1's "slow" pipeline is another file than the accepting worker 0's.
  write_text(c.rigs[1]->pipelines / "slow.yaml",
             read_text(c.rigs[1]->pipelines / "slow.yaml") + "# edited on one worker only\n");
  ASSERT_NE(io::sha256_file(c.rigs[0]->pipelines / "slow.yaml"),
            io::sha256_file(c.rigs[1]->pipelines / "slow.yaml"));
  c.start_all();
  auto sub = run_cmd({bin("qkvctl"), "--socket", c.rigs[0]->socket.string(), "submit", "--queue",
                      "redis", "-p", "slow", "--shards", "8", (c.in() / "p.jsonl").string(), "-o",
                      (c.out() / "p.jsonl").string()});
  ASSERT_EQ(sub.code, 0) << sub.err << sub.out;
  const std::string parent = sub.out.substr(0, sub.out.find('\n'));
  // Worker 0 drains at once: it finishes what runs and gives the rest back, so worker 1 is
  // offered shards whatever worker 0 had taken.
  c.workers[0]->signal(SIGTERM);
  EXPECT_EQ(c.workers[0]->wait_exit(60s), 0);
  const std::string dead_key = std::string(kStream) + ":dead";
  // Each shard ends once: done on worker 0, or dead-lettered by worker 1.
  auto ended = [&] {
    return results_of_parent(c, parent).size() + c.redis.cmd({"XLEN", dead_key}).integer;
  };
  ASSERT_TRUE(eventually([&] { return ended() == 8; }, 60s)) << ended();
  for (auto& r : results_of_parent(c, parent)) {
    EXPECT_EQ(r["state"], "done");
    EXPECT_EQ(r["worker"], "w0") << "worker 1 runs no shard of another pipeline file";
  }
  auto dead = c.redis.cmd({"XRANGE", dead_key, "-", "+"});
  ASSERT_GE(dead.elements.size(), 1u);
  for (auto& e : dead.elements) {
    const auto* reason = e.elements.at(1).field("reason");
    ASSERT_NE(reason, nullptr);
    EXPECT_NE(reason->str.find("pipeline_sha256 mismatch"), std::string::npos) << reason->str;
    EXPECT_NE(reason->str.find("w1"), std::string::npos) << reason->str;
    EXPECT_EQ(e.elements.at(1).field("parent")->str, parent);
    // first_document: the records (one a line) of p.jsonl before the shard's first byte.
    const auto* first = e.elements.at(1).field("first_document");
    ASSERT_NE(first, nullptr);
    auto job = json::parse(e.elements.at(1).field("job")->str);
    const auto begin = job["slice"]["begin"].get<std::size_t>();
    const std::string text = read_text(c.in() / "p.jsonl").substr(0, begin);
    EXPECT_EQ(first->str, std::to_string(std::count(text.begin(), text.end(), '\n'))) << job.dump();
    EXPECT_EQ(job["slice"]["first_document"].get<uint64_t>(), std::stoull(first->str));
  }
  auto j = status_of(*c.rigs[1], parent);
  EXPECT_EQ(j.value("state", ""), "failed") << j.dump();
  EXPECT_FALSE(fs::exists(c.out() / "p.manifest.json"));
  EXPECT_EQ(c.pending(), 0);
}

// The accepting worker keeps its own record of a parent (<spool>/redis/<id>.json): when Redis
// loses the parent's hash (its TTL, a FLUSH), `status`, `wait` and `list` there still work, the
// shards' ends read from <stream>:results.
TEST(RedisShard, AcceptingWorkerKnowsItsParentAfterRedisLostTheHash) {
  Cluster c(2, 5000);
  c.start_all();
  c.write_input("lost", 200);  // 4 shards of about 50 documents, 250 ms each
  auto sub = run_cmd({bin("qkvctl"), "--socket", c.rigs[0]->socket.string(), "submit", "--queue",
                      "redis", "-p", "slow", "--shards", "4", (c.in() / "lost.jsonl").string(),
                      "-o", (c.out() / "lost.jsonl").string()});
  ASSERT_EQ(sub.code, 0) << sub.err << sub.out;
  const std::string parent = sub.out.substr(0, sub.out.find('\n'));
  EXPECT_TRUE(fs::exists(c.rigs[0]->spool / "redis" / (parent + ".json")));
  // Gone while the shards run: their ends are recorded in the results only.
  EXPECT_EQ(c.redis
                .cmd({"DEL", std::string(kStream) + ":parent:" + parent,
                      std::string(kStream) + ":parents"})
                .integer,
            2);
  auto waited = run_cmd({bin("qkvctl"), "--socket", c.rigs[0]->socket.string(), "wait", parent});
  EXPECT_EQ(waited.code, 0) << waited.err << waited.out;
  EXPECT_EQ(results_of_parent(c, parent).size(), 4u);
  auto j = status_of(*c.rigs[0], parent);
  EXPECT_EQ(j.value("state", ""), "done") << j.dump();
  EXPECT_EQ(j.value("shards", 0), 4);
  EXPECT_EQ(j["shards_ended"].value("done", 0), 4) << j.dump();
  EXPECT_EQ(j.value("output", ""), (c.out() / "lost.jsonl").string());
  // Every shard done and no manifest (no end completed the lost hash): the status wrote it.
  EXPECT_TRUE(fs::exists(c.out() / "lost.manifest.json"));
  auto listed = c.workers[0]->client().call({{"v", 1}, {"op", "list"}});
  bool found = false;
  for (auto& l : listed["jobs"])
    found = found || (l.value("id", "") == parent && l.value("state", "") == "done");
  EXPECT_TRUE(found) << listed.dump();
  // Another worker has no record of it: Redis was its only source.
  EXPECT_EQ(status_of(*c.rigs[1], parent), json::object());
}

// request_id on Redis submits (docs/protocol.md): a retry, on the accepting worker or another,
// gets the first job back (`repeated`) and adds no entry; the same key with another body is
// refused naming the job.
TEST(RedisScale, RetriedRedisSubmitWithItsRequestIdAddsNothing) {
  Cluster c(2);
  c.start_all();
  c.write_input("once", 10);
  c.write_input("sharded", 30);
  json req = {{"v", 1},
              {"op", "submit"},
              {"queue", "redis"},
              {"request_id", "retry-1"},
              {"pipeline", "bytes"},
              {"inputs", {(c.in() / "once.jsonl").string()}},
              {"output", (c.out() / "once.jsonl").string()}};
  auto first = c.workers[0]->client().call(req);
  ASSERT_TRUE(first.contains("id")) << first.dump();
  const std::string id = first["id"];
  EXPECT_EQ(first.value("repeated", false), false);
  for (auto& w : c.workers) {  // worker 1 has only Redis's request key to go by
    auto again = w->client().call(req);
    EXPECT_EQ(again.value("id", ""), id) << again.dump();
    EXPECT_EQ(again.value("repeated", false), true) << again.dump();
  }
  json other = req;
  other["output"] = (c.out() / "other.jsonl").string();
  auto refused = c.workers[1]->client().call(other);
  EXPECT_EQ(refused["error"]["code"], "bad_request") << refused.dump();
  EXPECT_NE(refused["error"]["message"].get<std::string>().find(id), std::string::npos);
  // Sharded: the same parent, even after Redis lost the request key (this worker's record).
  json sharded = req;
  sharded["request_id"] = "retry-2";
  sharded["shards"] = 3;
  sharded["inputs"] = {(c.in() / "sharded.jsonl").string()};
  sharded["output"] = (c.out() / "sharded.jsonl").string();
  auto p1 = c.workers[0]->client().call(sharded);
  ASSERT_TRUE(p1.contains("id")) << p1.dump();
  const std::string parent = p1["id"];
  auto keys = c.redis.cmd({"KEYS", std::string(kStream) + ":request:*"});
  EXPECT_EQ(keys.elements.size(), 2u);
  for (auto& k : keys.elements) c.redis.cmd({"DEL", k.str});
  auto p2 = c.workers[0]->client().call(sharded);
  EXPECT_EQ(p2.value("id", ""), parent) << p2.dump();
  EXPECT_EQ(p2.value("repeated", false), true) << p2.dump();
  // One run each: one result for the job, one per shard.
  ASSERT_TRUE(eventually([&] { return c.results().size() >= 4; }, 60s));
  EXPECT_TRUE(eventually([&] { return c.redis.cmd({"XLEN", kStream}).integer == 0; }));
  std::this_thread::sleep_for(500ms);  // a second entry would have been taken by now
  EXPECT_EQ(c.results().size(), 4u);
  EXPECT_EQ(results_of_parent(c, parent).size(), 3u);
  EXPECT_EQ(c.results_for(id.substr(6)).size(), 1u);
}

// GET /metrics shows the Redis source's figures (docs/service.md): the stream's pending, lag and
// dead letters as of the last heartbeat, this worker's counters, and a reconnect after Redis
// came back.
TEST(RedisScale, MetricsShowTheRedisSourceFigures) {
  const uint16_t port = free_tcp_port();
  Cluster c(1, 2000, "metrics: {address: 127.0.0.1, port: " + std::to_string(port) + "}\n");
  c.start_all();
  c.write_input("m", 5);
  const std::string entry = c.add_job(c.job("m"));
  c.redis.cmd({"XADD", std::string(kStream) + ":dead", "*", "id", "1-1", "reason", "by the test"});
  ASSERT_TRUE(eventually([&] { return c.results_for(entry).size() == 1; }));
  std::string text;
  auto metrics = [&] { return text = http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"); };
  EXPECT_TRUE(eventually([&] {  // the stream's figures come with the next heartbeat
    metrics();
    return sample(text, "qkv_redis_dead_letters") == 1;
  })) << text;
  EXPECT_EQ(sample(text, "qkv_redis_up"), 1);
  EXPECT_EQ(sample(text, "qkv_redis_pending"), 0);
  EXPECT_EQ(sample(text, "qkv_redis_lag"), 0);
  EXPECT_EQ(sample(text, "qkv_redis_entries_taken_total"), 1);
  EXPECT_EQ(sample(text, "qkv_redis_ends_recorded_total"), 1);
  EXPECT_EQ(sample(text, "qkv_redis_leases_lost_total"), 0);
  EXPECT_EQ(sample(text, "qkv_redis_dead_lettered_total"), 0);
  EXPECT_EQ(sample(text, "qkv_redis_reconnects_total"), 0);
  c.redis.shutdown();
  EXPECT_TRUE(eventually([&] {
    metrics();
    return sample(text, "qkv_redis_up") == 0;
  })) << text;
  c.redis.start();
  EXPECT_TRUE(eventually([&] {
    metrics();
    return sample(text, "qkv_redis_reconnects_total") == 1 && sample(text, "qkv_redis_up") == 1;
  })) << text;
}

}  // namespace
}  // namespace qkv::test
