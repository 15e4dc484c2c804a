// A real qkvd over its real socket, driven by qkvctl and a raw client: inline runs, file
// jobs through the spool, reports, path security, limits, cancel, hand-dropped job files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace qkv::test {
namespace {

using json = nlohmann::json;

std::vector<std::string> sample_texts(int n, const std::string& tag) {
  std::vector<std::string> t;
  for (int i = 0; i < n; ++i)
    t.push_back(tag + " document " + std::to_string(i) + " caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac");
  return t;
}

CmdResult ctl(const Rig& s, std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), {bin("qkvctl"), "--socket", s.socket.string()});
  return run_cmd(args, input);
}

TEST(DaemonBasic, InlineRunPrintsGpt2Ids) {
  Rig s;
  s.write_shipped_pipeline("gpt2", "tokenize-gpt2");
  Daemon d(s);
  d.start();
  auto r = ctl(s, {"run", "--pipeline", "gpt2", "--text", "Hello world"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "[15496,995]\n");  // tiktoken gpt2 / r50k_base
  // Several texts, one line each, in order; texts from stdin when none are given.
  r = ctl(s, {"run", "-p", "bytes"}, "ab\nc\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "[97,98]\n[99]\n");
}

TEST(DaemonBasic, SubmitWaitWritesOutputManifestAndSpoolReport) {
  Rig s;
  Daemon d(s);
  d.start();
  auto texts = sample_texts(50, "x");
  write_text(s.in / "a.jsonl", jsonl_of(texts));
  auto r = ctl(s, {"submit", "--wait", "-p", "bytes", "-o", (s.out / "a.jsonl").string(),
                   (s.in / "a.jsonl").string()});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  std::string id = r.out.substr(0, r.out.find('\n'));
  EXPECT_NE(r.out.find("done: 50 documents"), std::string::npos) << r.out;
  EXPECT_EQ(read_text(s.out / "a.jsonl"), bytes_ids_jsonl(texts));
  auto manifest = json::parse(read_text(s.out / "a.manifest.json"));
  EXPECT_EQ(manifest["documents"], 50);
  // The spool: the job file as submitted (plus submitter), and the report.
  auto job = json::parse(read_text(s.spool / "done" / (id + ".json")));
  EXPECT_EQ(job["op"], "submit");
  EXPECT_EQ(job["output"], (s.out / "a.jsonl").string());
  auto report = json::parse(read_text(s.spool / "done" / (id + ".report.json")));
  EXPECT_EQ(report["state"], "done");
  EXPECT_EQ(report["submitted_by"]["uid"], ::getuid());
  EXPECT_EQ(report["submitted_by"]["via"], "unix");
  EXPECT_EQ(report["result"]["documents"], 50);
  EXPECT_TRUE(report.contains("run_seconds"));
  EXPECT_TRUE(fs::is_empty(s.spool / "incoming"));
  EXPECT_TRUE(fs::is_empty(s.spool / "active"));
  // status / list / stats see it.
  r = ctl(s, {"--json", "status", id});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["job"]["state"], "done");
  r = ctl(s, {"--json", "list"});
  EXPECT_NE(r.out.find(id), std::string::npos);
  r = ctl(s, {"--json", "stats"});
  EXPECT_EQ(json::parse(r.out)["jobs"]["done"], 1);
  // Ended jobs are found in the spool after a restart too.
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0);
  d.start();
  r = ctl(s, {"--json", "status", id});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["job"]["state"], "done");
  r = ctl(s, {"status", "no-such-job"});
  EXPECT_EQ(r.code, 4);
  EXPECT_NE(r.err.find("not_found"), std::string::npos);
}

TEST(DaemonBasic, PathsOutsideTheRootsAreRefused) {
  Rig s;
  Daemon d(s);
  d.start();
  write_text(s.in / "ok.jsonl", jsonl_of({"a"}));
  fs::create_directories(s.dir.path / "elsewhere");
  write_text(s.dir.path / "elsewhere" / "secret.jsonl", jsonl_of({"secret"}));
  fs::create_symlink(s.dir.path / "elsewhere" / "secret.jsonl", s.in / "link.jsonl");
  fs::create_directory_symlink(s.dir.path / "elsewhere", s.out / "linkdir");
  std::string ok_in = (s.in / "ok.jsonl").string(), ok_out = (s.out / "o.jsonl").string();
  struct Case {
    std::string input, output;
  } cases[] = {
      {(s.in / ".." / "elsewhere" / "secret.jsonl").string(), ok_out},  // `..` climbs out
      {(s.in / "link.jsonl").string(), ok_out},                         // symlink leads out
      {ok_in, (s.dir.path / "elsewhere" / "o.jsonl").string()},         // output outside
      {ok_in, (s.out / ".." / "o.jsonl").string()},
      {ok_in, (s.out / "linkdir" / "o.jsonl").string()},  // via a symlinked folder
      {(s.in / "*.jsonl").string(), ok_out},              // a glob matching the link
  };
  for (auto& c : cases) {
    auto r = ctl(s, {"submit", "-p", "bytes", "-o", c.output, c.input});
    EXPECT_EQ(r.code, 4) << c.input << " -> " << c.output << "\n" << r.out;
    EXPECT_NE(r.err.find("path_denied"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(s.dir.path / "elsewhere" / "o.jsonl"));
  // Relative paths are refused by the daemon (qkvctl would have made them absolute).
  auto c = d.client();
  auto reply = c.call({{"op", "submit"}, {"inputs", {"in/ok.jsonl"}}, {"output", ok_out}});
  EXPECT_EQ(reply["error"]["code"], "bad_request");
  EXPECT_TRUE(fs::is_empty(s.spool / "incoming"));
  EXPECT_TRUE(fs::is_empty(s.spool / "done"));
}

TEST(DaemonBasic, LimitsGiveClearErrors) {
  Rig s(
      "threads: 1\nlimits: {max_queue: 2, max_queued_per_submitter: 2, max_job_input_bytes: 20000, "
      "max_inline_texts: 3}\n");
  Daemon d(s);
  d.start();
  auto r = ctl(s, {"run", "-p", "bytes", "-t", "a", "-t", "b", "-t", "c", "-t", "d"});
  EXPECT_EQ(r.code, 4);
  EXPECT_NE(r.err.find("too_many_texts"), std::string::npos) << r.err;
  write_text(s.in / "big.jsonl", jsonl_of(std::vector<std::string>(300, std::string(100, 'x'))));
  r = ctl(s, {"submit", "-p", "bytes", "-o", (s.out / "big.jsonl").string(),
              (s.in / "big.jsonl").string()});
  EXPECT_EQ(r.code, 4);
  EXPECT_NE(r.err.find("input_too_large"), std::string::npos) << r.err;
  // One running (threads: 1) + two queued fill the queue: the next submit is refused at once.
  write_text(s.in / "slow.jsonl", jsonl_of(std::vector<std::string>(1000, "s")));
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    r = ctl(s, {"submit", "-p", "slow", "-o", (s.out / ("q" + std::to_string(i))).string(),
                (s.in / "slow.jsonl").string()});
    ASSERT_EQ(r.code, 0) << r.err;
    ids.push_back(r.out.substr(0, r.out.find('\n')));
    if (i == 0) {
      ASSERT_TRUE(eventually([&] {
        return json::parse(ctl(s, {"--json", "status", ids[0]}).out)["job"]["state"] == "running";
      }));
    }
  }
  r = ctl(s,
          {"submit", "-p", "slow", "-o", (s.out / "q3").string(), (s.in / "slow.jsonl").string()});
  EXPECT_EQ(r.code, 75) << r.out;
  EXPECT_NE(r.err.find("queue_full"), std::string::npos) << r.err;
  EXPECT_EQ(json::parse(ctl(s, {"--json", "stats"}).out)["jobs"]["rejected"], 1);
  for (auto& id : ids) ctl(s, {"cancel", "--no-wait", id});
}

TEST(DaemonBasic, RunTimeLimitFailsTheJobWithTimeout) {
  Rig s("limits: {max_run_seconds: 1}\n");
  Daemon d(s);
  d.start();
  write_text(s.in / "slow.jsonl", jsonl_of(std::vector<std::string>(1000, "s")));  // ~2 s
  auto r = ctl(s, {"submit", "--wait", "-p", "slow", "-o", (s.out / "slow.jsonl").string(),
                   (s.in / "slow.jsonl").string()});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("[timeout]"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::is_empty(s.out)) << "no output, no temporary file";
}

TEST(DaemonBasic, CancelStopsARunningJobAndLeavesNoFiles) {
  Rig s;
  Daemon d(s);
  d.start();
  write_text(s.in / "long.jsonl", jsonl_of(std::vector<std::string>(5000, "long job")));
  auto r = ctl(s, {"submit", "-p", "slow", "-o", (s.out / "long.jsonl").string(),
                   (s.in / "long.jsonl").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string id = r.out.substr(0, r.out.find('\n'));
  ASSERT_TRUE(eventually([&] {
    auto j = json::parse(ctl(s, {"--json", "status", id}).out)["job"];
    return j["progress"]["documents_done"].get<int>() > 0;
  }));
  r = ctl(s, {"cancel", id});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("cancelled"), std::string::npos) << r.out;
  auto report = json::parse(read_text(s.spool / "failed" / (id + ".report.json")));
  EXPECT_EQ(report["state"], "cancelled");
  EXPECT_TRUE(fs::is_empty(s.out)) << "no output and no temporary file after cancel";
  r = ctl(s, {"cancel", id});
  EXPECT_EQ(r.code, 0) << "cancelling a cancelled job is not an error";
  r = ctl(s, {"wait", id});
  EXPECT_EQ(r.code, 5) << "wait on a cancelled job exits 5";
}

TEST(DaemonBasic, FilesDroppedIntoIncomingAreJobs) {
  Rig s;
  Daemon d(s);
  d.start();
  auto texts = sample_texts(7, "dropped");
  write_text(s.in / "d.jsonl", jsonl_of(texts));
  json job = {{"pipeline", "bytes"},
              {"inputs", {(s.in / "d.jsonl").string()}},
              {"output", (s.out / "d.jsonl").string()}};
  // Maildir-style: written in tmp/, renamed into incoming/.
  write_text(s.spool / "tmp" / "my-job.json", job.dump());
  fs::rename(s.spool / "tmp" / "my-job.json", s.spool / "incoming" / "my-job.json");
  ASSERT_TRUE(eventually([&] { return fs::exists(s.spool / "done" / "my-job.report.json"); }));
  EXPECT_EQ(read_text(s.out / "d.jsonl"), bytes_ids_jsonl(texts));
  auto report = json::parse(read_text(s.spool / "done" / "my-job.report.json"));
  EXPECT_EQ(report["submitted_by"]["via"], "spool");
  EXPECT_EQ(report["submitted_by"]["uid"], ::getuid());
  // A file that is no job (and is not being written: old enough) ends in failed/ with why.
  write_text(s.spool / "incoming" / "junk.json", "{not json");
  auto old = fs::file_time_type::clock::now() - std::chrono::minutes(1);
  fs::last_write_time(s.spool / "incoming" / "junk.json", old);
  ASSERT_TRUE(eventually([&] { return fs::exists(s.spool / "failed" / "junk.report.json"); }));
  EXPECT_EQ(json::parse(read_text(s.spool / "failed" / "junk.report.json"))["error"]["code"],
            "bad_json");
  // A job whose pipeline does not exist fails with pipeline_error, not silently.
  json bad = job;
  bad["pipeline"] = "no-such-pipeline";
  write_text(s.spool / "incoming" / "nopipe.json", bad.dump());
  ASSERT_TRUE(eventually([&] { return fs::exists(s.spool / "failed" / "nopipe.report.json"); }));
  EXPECT_NE(read_text(s.spool / "failed" / "nopipe.report.json").find("no-such-pipeline"),
            std::string::npos);
}

TEST(DaemonBasic, QkvctlExitCodes) {
  Rig s;
  auto r = ctl(s, {"health"});
  EXPECT_EQ(r.code, 3) << "no daemon: unreachable";
  EXPECT_NE(r.err.find("cannot connect"), std::string::npos);
  r = run_cmd({bin("qkvctl"), "submit"});
  EXPECT_EQ(r.code, 2) << "usage error";
  Daemon d(s);
  d.start();
  r = ctl(s, {"health"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("ok"), std::string::npos);
  r = ctl(s, {"--json", "health"});
  auto h = json::parse(r.out);
  EXPECT_EQ(h["protocol"], 1);
  EXPECT_EQ(h["v"], 1);
  write_text(s.in / "f.jsonl", "{\"text\": 5}\n");
  r = ctl(s, {"submit", "--wait", "-p", "bytes", "-o", (s.out / "f.jsonl").string(),
              (s.in / "f.jsonl").string()});
  EXPECT_EQ(r.code, 1) << "the job failed: " << r.out;
  EXPECT_NE(r.out.find("failed"), std::string::npos);
}

}  // namespace
}  // namespace qkv::test
