// "Exactly one end, always recordable" (issue 11 item 3) against a real qkvd: reports of any
// bytes, mislabelled compressed inputs, non-regular entries in incoming/, one daemon per spool,
// private plugin copies of dead daemons.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace qkv::test {
namespace {

using json = nlohmann::json;

// Any entry, a dangling symlink too.
bool present(const fs::path& p) {
  std::error_code ec;
  return fs::symlink_status(p, ec).type() != fs::file_type::not_found && !ec;
}

// The report of `id` once its end is complete (report and job file in done/ or failed/; null
// after the timeout). It must parse.
json wait_report(const Rig& s, const std::string& id, std::chrono::milliseconds t = 20s) {
  json out;
  eventually(
      [&] {
        for (auto* dir : {"done", "failed"}) {
          fs::path p = s.spool / dir / (id + ".report.json");
          if (fs::exists(p) && present(s.spool / dir / (id + ".json"))) {
            out = json::parse(read_text(p));  // throws (fails the test) when not JSON
            return true;
          }
        }
        return false;
      },
      t);
  return out;
}

void drop_job_file(const Rig& s, const std::string& name, const std::string& bytes) {
  write_text(s.spool / "tmp" / name, bytes);
  fs::rename(s.spool / "tmp" / name, s.spool / "incoming" / name);
}

json submit_ok(Daemon& d, const json& req) {
  auto r = d.client().call(req);
  EXPECT_TRUE(r.value("ok", false)) << r.dump();
  return r;
}

TEST(OneEnd, AReportOfAnyBytesIsWrittenAndTheJobEndsOnce) {
  Rig s;
  Daemon d(s);
  d.start();
  // A stray non-UTF-8 byte outside a JSON string: the parser quotes it in its message.
  drop_job_file(s, "stray.json", "{\"pipeline\": \"bytes\", \xff\xfe}\n");
  // A UTF-16 job file (BOM and all).
  std::string utf16 = "\xff\xfe";
  for (char c : std::string(R"({"pipeline":"bytes"})")) utf16 += std::string{c, '\0'};
  drop_job_file(s, "utf16.json", utf16);
  // A glob matching a non-UTF-8 file name whose content fails the job.
  write_text(s.in / "bad\xff\xfename.jsonl", "{\"text\": \"ok\"}\nnot json \xff\n");
  std::string glob_id = submit_ok(d, {{"op", "submit"},
                                      {"pipeline", "bytes"},
                                      {"inputs", {(s.in / "bad*.jsonl").string()}},
                                      {"output", (s.out / "glob.jsonl").string()}})["id"];
  // A .gz that is not gzip: an error naming the file, not its bytes read as text.
  write_text(s.in / "fake.jsonl.gz", "{\"text\": \"\xff\xfe plain\"}\n");
  std::string gz_id = submit_ok(d, {{"op", "submit"},
                                    {"pipeline", "bytes"},
                                    {"inputs", {(s.in / "fake.jsonl.gz").string()}},
                                    {"output", (s.out / "gz.jsonl").string()}})["id"];
  for (auto* id : {"stray", "utf16"}) {
    auto rep = wait_report(s, id, 30s);  // unparsable files get 5 s to settle
    ASSERT_FALSE(rep.is_null()) << id << "\n" << d.log();
    EXPECT_EQ(rep["state"], "failed") << id;
    EXPECT_EQ(rep["error"]["code"], "bad_json") << id;
  }
  auto glob = wait_report(s, glob_id);
  ASSERT_FALSE(glob.is_null()) << d.log();
  EXPECT_EQ(glob["state"], "failed");
  std::string msg = glob["error"]["message"];
  EXPECT_NE(msg.find("bad\\xff\\xfename.jsonl:2"), std::string::npos) << msg;
  auto gz = wait_report(s, gz_id);
  ASSERT_FALSE(gz.is_null()) << d.log();
  EXPECT_EQ(gz["state"], "failed");
  msg = gz["error"]["message"];
  EXPECT_NE(msg.find((s.in / "fake.jsonl.gz").string() + ": not gzip data"), std::string::npos)
      << msg;
  EXPECT_TRUE(fs::is_empty(s.spool / "active"));
  // After a restart nothing runs again: each job has exactly one end.
  d.kill9();
  d.start();
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(fs::is_empty(s.spool / "active"));
  EXPECT_TRUE(fs::is_empty(s.spool / "incoming"));
  std::size_t reports = 0;
  for (auto& e : fs::directory_iterator(s.spool / "failed"))
    reports += e.path().string().ends_with(".report.json");
  EXPECT_EQ(reports, 4u);
  EXPECT_TRUE(fs::is_empty(s.spool / "done"));
}

TEST(OneEnd, ANonRegularEntryInIncomingIsFailedWithAReport) {
  Rig s;
  Daemon d(s);
  d.start();
  ASSERT_EQ(::mkfifo((s.spool / "incoming" / "pipe.json").c_str(), 0600), 0);
  fs::create_directory(s.spool / "incoming" / "folder.json");
  fs::create_symlink(s.in / "nowhere.json", s.spool / "incoming" / "link.json");
  for (auto* id : {"pipe", "folder", "link"}) {
    auto rep = wait_report(s, id);
    ASSERT_FALSE(rep.is_null()) << id << "\n" << d.log();
    EXPECT_EQ(rep["error"]["code"], "bad_request") << id;
    std::string msg = rep["error"]["message"];
    EXPECT_NE(msg.find("not a regular file"), std::string::npos) << msg;
  }
  EXPECT_TRUE(fs::is_empty(s.spool / "incoming"));
  EXPECT_TRUE(d.client().call({{"op", "health"}}).value("ok", false));
}

TEST(OneEnd, ASecondDaemonOnTheSameSpoolExits1NamingTheHolder) {
  Rig s;
  Daemon first(s);
  first.start();
  Rig other;  // its own socket, the first one's spool
  std::string cfg = read_text(other.config);
  auto at = cfg.find("spool: ");
  cfg.replace(at, cfg.find('\n', at) - at, "spool: " + s.spool.string());
  write_text(other.config, cfg);
  Daemon second(other);
  second.spawn();
  EXPECT_EQ(second.wait_exit(), 1);
  EXPECT_NE(second.log().find("pid " + std::to_string(first.pid())), std::string::npos)
      << second.log();
  EXPECT_TRUE(first.client().call({{"op", "health"}}).value("ok", false));
  // The lock goes with the process, kill -9 included.
  first.kill9();
  second.start();
  EXPECT_TRUE(second.client().call({{"op", "health"}}).value("ok", false));
}

// The spool fills up between the job's outputs and its report (the test-only seam
// QKV_TEST_SPOOL_ENOSPC_AFTER fails spool writes past N bytes): the end is retried, never
// reported failed; killed while retrying, the next start records it done from the manifest
// that names the job, without running it again.
TEST(OneEnd, ASpoolFullAtTheEndIsRetriedAndTheFinishedJobIsNeverRunAgain) {
  Rig s;
  // Long names: the job file (each path once) fits in the budget, the report (each path
  // several times) does not.
  const std::string name(180, 'n');
  auto texts = std::vector<std::string>{"one", "two", "three"};
  write_text(s.in / (name + ".jsonl"), jsonl_of(texts));
  Daemon d(s);
  d.start({{"QKV_TEST_SPOOL_ENOSPC_AFTER", "1000"}});
  std::string id = submit_ok(d, {{"op", "submit"},
                                 {"pipeline", "bytes"},
                                 {"inputs", {(s.in / (name + ".jsonl")).string()}},
                                 {"output", (s.out / (name + ".jsonl")).string()}})["id"];
  const fs::path out = s.out / (name + ".jsonl");
  const fs::path manifest = s.out / (name + ".manifest.json");
  ASSERT_TRUE(eventually([&] { return d.log().find("; retrying") != std::string::npos; }))
      << d.log();
  ASSERT_TRUE(fs::exists(manifest));
  EXPECT_EQ(json::parse(read_text(manifest))["job_id"], id);
  std::this_thread::sleep_for(300ms);  // a few retries
  auto st = d.client().call({{"op", "status"}, {"id", id}});
  EXPECT_EQ(st["job"]["state"], "running") << st.dump();  // not "failed" for a complete output
  EXPECT_TRUE(fs::is_empty(s.spool / "failed"));
  EXPECT_TRUE(fs::is_empty(s.spool / "done"));
  struct stat before {};
  ASSERT_EQ(::stat(out.c_str(), &before), 0);
  d.kill9();
  d.start();  // room again
  auto rep = wait_report(s, id);
  ASSERT_FALSE(rep.is_null()) << d.log();
  EXPECT_EQ(rep["state"], "done");
  EXPECT_TRUE(rep.contains("recovered")) << rep.dump();
  EXPECT_EQ(rep["result"]["documents"], 3);
  struct stat after {};
  ASSERT_EQ(::stat(out.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino) << "the finished job ran again";
  EXPECT_EQ(read_text(out), bytes_ids_jsonl(texts));
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(fs::is_empty(s.spool / "active"));
  EXPECT_TRUE(fs::is_empty(s.spool / "incoming"));
  EXPECT_TRUE(fs::is_empty(s.spool / "failed"));
  EXPECT_EQ(d.client().call({{"op", "status"}, {"id", id}})["job"]["state"], "done");
}

// A manifest that does not name the job (another run's, or one whose outputs changed size) is
// no proof: the job runs again.
TEST(OneEnd, AManifestOfAnotherJobOrWithWrongSizesDoesNotCountAsFinished) {
  Rig s;
  auto texts = std::vector<std::string>{"a", "b"};
  write_text(s.in / "x.jsonl", jsonl_of(texts));
  fs::create_directories(s.spool / "active");
  for (auto* kind : {"other-id", "short-output"}) {
    std::string id = std::string("left-") + kind;
    json job = {{"op", "submit"},
                {"pipeline", "bytes"},
                {"inputs", {(s.in / "x.jsonl").string()}},
                {"output", (s.out / (id + ".jsonl")).string()}};
    write_text(s.spool / "active" / (id + ".json"), job.dump());
    write_text(s.out / (id + ".jsonl"), "[1]\n");
    json m = {{"job_id", std::string(kind) == "other-id" ? "someone-else" : id},
              {"outputs", {{{"path", (s.out / (id + ".jsonl")).string()}, {"bytes", 999}}}}};
    if (std::string(kind) == "other-id") m["outputs"][0]["bytes"] = 4;
    write_text(s.out / (id + ".manifest.json"), m.dump());
  }
  Daemon d(s);
  d.start();
  for (auto* id : {"left-other-id", "left-short-output"}) {
    auto rep = wait_report(s, id);
    ASSERT_FALSE(rep.is_null()) << d.log();
    EXPECT_EQ(rep["state"], "done");
    EXPECT_FALSE(rep.contains("recovered")) << id;
    EXPECT_EQ(read_text(s.out / (std::string(id) + ".jsonl")), bytes_ids_jsonl(texts)) << id;
  }
}

// A lost reply to `submit`, retried with the same request_id (after a restart too), gives the
// first job back instead of running it twice; the same id with another body is refused.
TEST(OneEnd, ASubmitRetriedWithItsRequestIdRunsTheJobOnce) {
  Rig s("", 20000);  // slow: 20 ms per document
  auto texts = std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g", "h"};
  write_text(s.in / "r.jsonl", jsonl_of(texts));
  Daemon d(s);
  d.start();
  const json req = {{"op", "submit"},
                    {"pipeline", "slow"},
                    {"inputs", {(s.in / "r.jsonl").string()}},
                    {"output", (s.out / "r.jsonl").string()},
                    {"request_id", "retry-1"}};
  {
    auto c = d.client();
    c.send(req);  // the reply is lost: the client goes away without reading it
  }
  ASSERT_TRUE(eventually(
      [&] { return !fs::is_empty(s.spool / "incoming") || !fs::is_empty(s.spool / "active"); }));
  d.kill9();  // and the daemon dies too
  d.start();
  auto again = submit_ok(d, req);
  EXPECT_EQ(again.value("repeated", false), true) << again.dump();
  std::string id = again["id"];
  auto third = submit_ok(d, req);
  EXPECT_EQ(third["id"], id);
  // The same request_id for another job is a client error.
  json other = req;
  other["output"] = (s.out / "other.jsonl").string();
  auto refused = d.client().call(other);
  EXPECT_EQ(refused["error"]["code"], "bad_request") << refused.dump();
  EXPECT_NE(refused["error"]["message"].get<std::string>().find(id), std::string::npos);
  // qkvctl --request-id: the same, and the id alone on the first line.
  auto ctl = [&] {
    return run_cmd({bin("qkvctl"), "--socket", s.socket.string(), "submit", "-p", "slow", "-o",
                    (s.out / "r.jsonl").string(), "--request-id", "retry-1",
                    (s.in / "r.jsonl").string()});
  };
  auto r = ctl();
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), id) << r.out;
  ASSERT_FALSE(wait_report(s, id, 30s).is_null()) << d.log();
  std::size_t jobs = 0;
  for (auto* dir : {"incoming", "active", "done", "failed"})
    for (auto& e : fs::directory_iterator(s.spool / dir))
      jobs += !e.path().string().ends_with(".report.json");
  EXPECT_EQ(jobs, 1u);
  EXPECT_EQ(read_text(s.out / "r.jsonl"), bytes_ids_jsonl(texts));
  // After its end, the same request still names the same job (kept while it is retained).
  EXPECT_TRUE(eventually([&] { return submit_ok(d, req)["state"] == "done"; }));
}

pid_t dead_pid() {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int st = 0;
  ::waitpid(child, &st, 0);
  return child;
}

TEST(OneEnd, PrivatePluginCopiesLiveInTheSpoolAndADeadDaemonsAreRemovedAtStart) {
  Rig s;
  fs::path copies = s.spool / "plugin-copies";
  // What kill -9 during a reload leaves: a copy in the dead daemon's folder.
  fs::path dead = copies / std::to_string(dead_pid()) / "Ab12Cd";
  fs::create_directories(dead);
  write_text(dead / "qkv_test-bytes.so", "left behind");
  fs::path live = copies / std::to_string(::getpid());  // a running process's: kept
  fs::create_directories(live);
  Daemon d(s);
  d.start();
  EXPECT_FALSE(fs::exists(dead.parent_path()));
  EXPECT_TRUE(fs::exists(live));
  // The daemon's own folder exists and holds nothing once the plugins are loaded.
  fs::path own = copies / std::to_string(d.pid());
  EXPECT_TRUE(fs::is_directory(own));
  EXPECT_TRUE(fs::is_empty(own));
  auto r = d.client().call({{"op", "reload"}});
  EXPECT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_TRUE(fs::is_empty(own));
}

}  // namespace
}  // namespace qkv::test
