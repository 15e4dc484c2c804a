// The spool's moves and crash recovery, on real folders.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "io/atomic_file.hpp"
#include "jobs/job_json.hpp"
#include "jobs/spool.hpp"

namespace qkv::jobs {
namespace {

struct Tmp {
  Tmp() {
    char t[] = "/tmp/qkvspool-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~Tmp() { fs::remove_all(path); }
  fs::path path;
};

void touch(const fs::path& p, const std::string& s = "x") { std::ofstream(p) << s; }

TEST(Spool, SubmitClaimCompleteMovesTheFileAndWritesTheReport) {
  Tmp t;
  Spool sp({t.path});
  ASSERT_TRUE(sp.put_incoming("j1", R"({"op":"submit"})"));
  EXPECT_FALSE(sp.put_incoming("j1", "{}")) << "never replaces";
  ASSERT_EQ(sp.list_incoming().size(), 1u);
  EXPECT_TRUE(sp.claim("j1.json", "j1"));
  EXPECT_FALSE(sp.claim("j1.json", "j1")) << "a second consumer loses";
  sp.complete("j1", true, {{"id", "j1"}, {"state", "done"}});
  EXPECT_TRUE(fs::exists(t.path / "done" / "j1.json"));
  EXPECT_EQ((*sp.find_report("j1"))["state"], "done");
  EXPECT_TRUE(fs::is_empty(t.path / "active"));
  EXPECT_TRUE(sp.id_taken("j1"));
}

crash::Record record_naming(const std::string& owner, const std::string& source, int sig) {
  crash::Record r;
  r.source = source;
  r.signal = sig;
  r.owner = owner;
  r.pipeline = "p";
  r.plugin = "test-bytes";
  r.call = "encode";
  return r;
}

TEST(Spool, RecoveryBlamesOnlyTheJobACrashRecordNamesAndFailsItOnTheSecond) {
  Tmp t;
  Spool sp({t.path});
  sp.put_incoming("j", R"({"op":"submit","output":"/nonexistent/x.jsonl"})");
  sp.put_incoming("beside", "{}");
  sp.claim("j.json", "j");
  sp.claim("beside.json", "beside");
  // kill -9 / OOM / power loss: no record, nobody blamed, however often.
  for (int i = 0; i < 3; ++i) {
    auto r = sp.recover();
    EXPECT_EQ(r.requeued, (std::vector<std::string>{"beside", "j"}));
    EXPECT_TRUE(r.blamed.empty());
    EXPECT_TRUE(fs::is_empty(t.path / "crashes"));
    sp.claim("j.json", "j");
    sp.claim("beside.json", "beside");
  }
  // A crash record naming j: only j is blamed; applying the same record again changes nothing.
  std::vector<crash::Record> first{record_naming("j", "100-1", 11)};
  auto r1 = sp.recover(first);
  EXPECT_EQ(r1.blamed, std::vector<std::string>{"j"});
  EXPECT_TRUE(r1.suspects.empty());
  EXPECT_FALSE(fs::exists(t.path / "crashes" / "beside"));
  sp.claim("j.json", "j");
  sp.claim("beside.json", "beside");
  auto again = sp.recover(first);
  EXPECT_TRUE(again.blamed.empty());
  EXPECT_TRUE(again.suspects.empty());
  sp.claim("j.json", "j");
  sp.claim("beside.json", "beside");
  // The second blamed crash: suspect, naming the signal and the plugin.
  auto r2 = sp.recover({record_naming("j", "200-2", 6)});
  EXPECT_EQ(r2.suspects, std::vector<std::string>{"j"});
  EXPECT_EQ(r2.requeued, std::vector<std::string>{"beside"});
  auto rep = *sp.find_report("j");
  EXPECT_EQ(rep["error"]["code"], "suspect");
  std::string msg = rep["error"]["message"];
  EXPECT_NE(msg.find("SIGSEGV in plugin 'test-bytes' (encode)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("SIGABRT"), std::string::npos) << msg;
  EXPECT_EQ(rep["crashes"].size(), 2u);
  EXPECT_EQ(rep["job"]["output"], "/nonexistent/x.jsonl");
  EXPECT_FALSE(fs::exists(t.path / "crashes" / "j"));
  EXPECT_TRUE(fs::exists(t.path / "incoming" / "beside.json"));
  // A job that ended normally after a blamed crash loses its mark.
  sp.put_incoming("k", "{}");
  sp.claim("k.json", "k");
  sp.recover({record_naming("k", "300-3", 11)});
  EXPECT_TRUE(fs::exists(t.path / "crashes" / "k"));
  sp.claim("k.json", "k");
  sp.complete("k", true, {{"id", "k"}});
  EXPECT_FALSE(fs::exists(t.path / "crashes" / "k"));
}

TEST(Spool, RecoveryFinishesAnEndThatWasCutShortAndClearsTmp) {
  Tmp t;
  Spool sp({t.path});
  sp.put_incoming("e", "{}");
  sp.claim("e.json", "e");
  touch(t.path / "done" / "e.report.json", R"({"state":"done"})");  // crash after the report
  // A writer that died mid-file (a crashed qkvd), and a hand-dropped file being written.
  pid_t child = ::fork();
  if (child == 0) {
    io::AtomicFile half(t.path / "tmp" / "x.json");
    half.write(std::string(2 << 20, 'x'));
    ::_exit(0);  // no destructor: the temporary file stays, as after kill -9
  }
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_EQ(std::distance(fs::directory_iterator(t.path / "tmp"), fs::directory_iterator()), 1);
  touch(t.path / "tmp" / "hand.json");
  auto r = sp.recover();
  EXPECT_EQ(r.completed, std::vector<std::string>{"e"});
  EXPECT_TRUE(fs::exists(t.path / "done" / "e.json"));
  std::vector<std::string> left;
  for (auto& e : fs::directory_iterator(t.path / "tmp")) left.push_back(e.path().filename());
  EXPECT_EQ(left, std::vector<std::string>{"hand.json"});
  EXPECT_TRUE(fs::is_empty(t.path / "crashes"));
}

TEST(Spool, RetentionPrunesOldEndedJobs) {
  Tmp t;
  Spool sp({t.path, 1, 1});
  for (auto id : {"old", "new"}) {
    sp.put_incoming(id, "{}");
    sp.claim(std::string(id) + ".json", id);
    sp.complete(id, true, {{"id", id}});
  }
  auto old = fs::file_time_type::clock::now() - std::chrono::hours(49);
  fs::last_write_time(t.path / "done" / "old.report.json", old);
  EXPECT_EQ(sp.prune(), 1u);
  EXPECT_FALSE(fs::exists(t.path / "done" / "old.json"));
  EXPECT_TRUE(fs::exists(t.path / "done" / "new.json"));
}

TEST(Spool, JobIds) {
  EXPECT_TRUE(valid_job_id("20261126-1-a"));
  EXPECT_TRUE(valid_job_id(new_job_id()));
  EXPECT_NE(new_job_id(), new_job_id());
  for (auto bad : {"", ".hidden", "-x", "a/b", "x.report", "a b", "../x"})
    EXPECT_FALSE(valid_job_id(bad)) << bad;
}

// Job ids and the job view's times are spelled from one UTC calendar time: both in UTC, with
// the milliseconds (1795510501234 ms after the epoch is 2026-11-24T08:55:01.234Z).
TEST(Spool, TimesAreUtcWithMilliseconds) {
  const Clock::time_point t{std::chrono::milliseconds(1795510501234)};
  EXPECT_EQ(iso_time(t), "2026-11-24T08:55:01.234Z");
  const UtcTime u = utc_time(t);
  EXPECT_EQ(u.year, 2026);
  EXPECT_EQ(u.month, 11);
  EXPECT_EQ(u.day, 24);
  EXPECT_EQ(u.millisecond, 234);
  EXPECT_EQ(new_job_id().substr(0, 2), "20");
}

}  // namespace
}  // namespace qkv::jobs
