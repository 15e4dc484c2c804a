// Crash attribution (issue 11 item 2) against a real qkvd: a crash blames only the job (or
// inline request) whose plugin call crashed, named by the crash record the signal handler
// writes (daemon/crash/); kill -9 blames no one; a job blamed twice ends suspect.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace qkv::test {
namespace {

using json = nlohmann::json;

std::vector<std::string> lines(const std::string& tag, int n) {
  std::vector<std::string> t;
  for (int i = 0; i < n; ++i) t.push_back(tag + " line " + std::to_string(i));
  return t;
}

// A rig (slow: 4 ms per document) whose "segv" pipeline writes through a null pointer on a
// text containing SEGV.
struct CrashRig : Rig {
  CrashRig() : Rig("", 4000) {
    write_pipeline("segv",
                   "tokenizer: {plugin: test-bytes, config: {segv_on: SEGV, delay_us: 1000}}\n"
                   "output: {format: jsonl}\nbatch: {documents: 4}\n");
  }
};

json submit(Daemon& d, const Rig& s, const std::string& pipeline, const std::string& name) {
  auto r = d.client().call({{"op", "submit"},
                            {"pipeline", pipeline},
                            {"inputs", {(s.in / (name + ".jsonl")).string()}},
                            {"output", (s.out / (name + ".jsonl")).string()}});
  EXPECT_TRUE(r.value("ok", false)) << r.dump();
  return r;
}

std::string state_of(Daemon& d, const std::string& id) {
  auto st = d.client().call({{"op", "status"}, {"id", id}});
  return st.value("ok", false) ? st["job"].value("state", "") : "";
}

json report_of(const Rig& s, const std::string& id) {
  for (auto* dir : {"done", "failed"}) {
    fs::path p = s.spool / dir / (id + ".report.json");
    if (fs::exists(p)) return json::parse(read_text(p));
  }
  return {};
}

TEST(CrashAttribution, ASegfaultingJobEndsSuspectAfterItsSecondCrashAndTheJobBesideItEndsDone) {
  CrashRig s;
  // The innocent job runs ~1.6 s (400 documents x 4 ms, two threads): it is running at both
  // crashes.
  auto innocent_texts = lines("innocent", 400);
  write_text(s.in / "innocent.jsonl", jsonl_of(innocent_texts));
  auto poison = lines("poison", 12);
  poison.push_back("this one will SEGV the plugin");
  write_text(s.in / "poison.jsonl", jsonl_of(poison));

  Daemon d(s);
  d.start();
  std::string innocent = submit(d, s, "slow", "innocent")["id"];
  ASSERT_TRUE(eventually([&] { return state_of(d, innocent) == "running"; }));
  std::string bad = submit(d, s, "segv", "poison")["id"];
  // First crash: qkvd dies of the plugin's SIGSEGV, both jobs still in active/.
  EXPECT_EQ(d.wait_exit(), -SIGSEGV);
  EXPECT_TRUE(fs::exists(s.spool / "active" / (innocent + ".json")));
  EXPECT_TRUE(fs::exists(s.spool / "active" / (bad + ".json")));
  // Restart: both run again; the poison job crashes qkvd a second time (maybe before it serves).
  d.spawn();
  EXPECT_EQ(d.wait_exit(), -SIGSEGV);
  EXPECT_TRUE(fs::exists(s.spool / "crashes" / bad));
  EXPECT_FALSE(fs::exists(s.spool / "crashes" / innocent)) << "the innocent job was blamed";
  // Third start: the poison job is set aside, the innocent one finishes; no crash loop.
  d.start();
  auto rep = report_of(s, bad);
  ASSERT_FALSE(rep.is_null()) << d.log();
  EXPECT_EQ(rep["state"], "failed");
  EXPECT_EQ(rep["error"]["code"], "suspect");
  std::string msg = rep["error"]["message"];
  EXPECT_NE(msg.find("SIGSEGV in plugin 'test-bytes' (encode)"), std::string::npos) << msg;
  ASSERT_TRUE(eventually([&] { return state_of(d, innocent) == "done"; }, 60s)) << d.log();
  EXPECT_EQ(report_of(s, innocent)["state"], "done");
  EXPECT_EQ(read_text(s.out / "innocent.jsonl"), bytes_ids_jsonl(innocent_texts));
  EXPECT_FALSE(fs::exists(s.out / "poison.jsonl"));
  EXPECT_TRUE(d.running());
  EXPECT_TRUE(d.client().call({{"op", "health"}}).value("ok", false));
  EXPECT_TRUE(fs::is_empty(s.spool / "crashes"));
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0);
}

// A stack overflow faults on the exhausted stack itself: only an alternate signal stack lets the
// handler run and write the record that blames the job (crash/signal_stack.hpp).
TEST(CrashAttribution, AStackOverflowInAPluginIsBlamedOnItsJob) {
  CrashRig s;
  s.write_pipeline("overflow",
                   "tokenizer: {plugin: test-bytes, config: {overflow_on: DEEP}}\n"
                   "output: {format: jsonl}\n");
  write_text(s.in / "deep.jsonl", jsonl_of({"fine", "this one recurses DEEP", "fine too"}));
  Daemon d(s);
  d.start();
  std::string bad = submit(d, s, "overflow", "deep")["id"];
  EXPECT_EQ(d.wait_exit(), -SIGSEGV);
  // The restart applies the crash record (a blame) and runs the job again: a second crash.
  d.spawn();
  EXPECT_EQ(d.wait_exit(), -SIGSEGV);
  EXPECT_TRUE(fs::exists(s.spool / "crashes" / bad)) << "no crash record: " << d.log();
  d.start();
  auto rep = report_of(s, bad);
  ASSERT_FALSE(rep.is_null()) << d.log();
  EXPECT_EQ(rep["error"]["code"], "suspect");
  std::string msg = rep["error"]["message"];
  EXPECT_NE(msg.find("SIGSEGV in plugin 'test-bytes' (encode)"), std::string::npos) << msg;
  EXPECT_TRUE(d.client().call({{"op", "health"}}).value("ok", false));
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0);
}

TEST(CrashAttribution, KillNineBlamesNoOne) {
  CrashRig s;
  // ~3 s per run (1500 x 4 ms, two threads): it never ends between "running" and the kill.
  auto texts = lines("victim", 1500);
  write_text(s.in / "victim.jsonl", jsonl_of(texts));
  Daemon d(s);
  d.start();
  std::string id = submit(d, s, "slow", "victim")["id"];
  // Three kill -9 while it runs (the old rule failed a job running during two crashes).
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(eventually([&] { return state_of(d, id) == "running"; }, 30s)) << d.log();
    d.kill9();
    EXPECT_FALSE(fs::exists(s.spool / "crashes" / id));
    d.start();
  }
  ASSERT_TRUE(eventually([&] { return state_of(d, id) == "done"; }, 60s)) << d.log();
  EXPECT_EQ(read_text(s.out / "victim.jsonl"), bytes_ids_jsonl(texts));
  EXPECT_TRUE(fs::is_empty(s.spool / "failed"));
}

TEST(CrashAttribution, AnInlineRunThatCrashedQkvdIsRefusedAsSuspect) {
  CrashRig s;
  Daemon d(s);
  d.start();
  const json crashing = {{"op", "run"}, {"pipeline", "segv"}, {"texts", {"fine", "a SEGV here"}}};
  try {
    auto c = d.client();
    c.call(crashing);
  } catch (const std::exception&) {
    // the daemon died mid-request: no reply
  }
  EXPECT_EQ(d.wait_exit(), -SIGSEGV);
  for (int start = 0; start < 2; ++start) {  // remembered across restarts
    d.start();
    auto r = d.client().call(crashing);
    EXPECT_FALSE(r.value("ok", true)) << r.dump();
    EXPECT_EQ(r["error"]["code"], "suspect") << r.dump();
    // Another request on the same pipeline (other texts, or another set) still runs.
    auto ok = d.client().call({{"op", "run"}, {"pipeline", "segv"}, {"texts", {"fine"}}});
    EXPECT_TRUE(ok.value("ok", false)) << ok.dump();
    // (A set of tokenizer.config, e.g. segv_on, is refused on inline runs altogether.)
    json other_set = {{"op", "run"}, {"pipeline", "segv"}, {"texts", {"fine", "also fine"}}};
    other_set["set"] = {{"batch.documents", "7"}};
    auto ok2 = d.client().call(other_set);
    EXPECT_TRUE(ok2.value("ok", false)) << ok2.dump();
    EXPECT_TRUE(d.running());
    d.signal(SIGTERM);
    EXPECT_EQ(d.wait_exit(), 0);
  }
}

TEST(CrashAttribution, TheQuarantineEndsAfterItsPeriod) {
  CrashRig s;
  write_text(s.config, read_text(s.config) + "limits: {crash_quarantine_seconds: 1}\n");
  Daemon d(s);
  d.start();
  const json crashing = {{"op", "run"}, {"pipeline", "segv"}, {"texts", {"SEGV"}}};
  try {
    d.client().call(crashing);
  } catch (const std::exception&) {
  }
  EXPECT_EQ(d.wait_exit(), -SIGSEGV);
  d.start();
  std::this_thread::sleep_for(1100ms);
  // The period is over: it runs (and crashes) again, and is quarantined anew.
  try {
    d.client().call(crashing);
  } catch (const std::exception&) {
  }
  EXPECT_EQ(d.wait_exit(), -SIGSEGV);
  d.start();
  auto r = d.client().call(crashing);
  EXPECT_EQ(r["error"]["code"], "suspect") << r.dump();
}

}  // namespace
}  // namespace qkv::test
