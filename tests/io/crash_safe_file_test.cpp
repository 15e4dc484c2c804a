// The crash-safe file module (io/directory.hpp, io/atomic_file.hpp) on real folders: temporary
// files never show under the final name, discard and crashes leave nothing behind, the cleaner
// removes only its own stale names, renames never replace when told not to, work stays in the
// folder that was opened, and every failure names its path.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "io/atomic_file.hpp"
#include "io/directory.hpp"
#include "io/io_error.hpp"
#include "io/output_set.hpp"
#include "slurp.hpp"

namespace fs = std::filesystem;
using namespace qkv::io;

namespace {

class CrashSafeFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/qkvcsf-XXXXXX";
    ASSERT_NE(::mkdtemp(t), nullptr);
    dir_ = t;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<std::string> names(const fs::path& d) const {
    std::vector<std::string> out;
    for (auto& e : fs::directory_iterator(d)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::vector<std::string> names() const { return names(dir_); }
  std::shared_ptr<const Directory> open(const fs::path& d) const {
    return std::make_shared<const Directory>(Directory::open(d));
  }
  // Runs `body` in a child process; `body` ends with _exit, dying without unwinding (like
  // kill -9), so its open AtomicFiles leave their temporary files behind.
  static void in_crashing_child(const std::function<void()>& body) {
    pid_t pid = ::fork();
    if (pid == 0) {
      body();
      ::_exit(1);
    }
    ASSERT_GT(pid, 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  static std::string message_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const IoError& e) {
      return e.what();
    }
    return "(no error)";
  }
  fs::path dir_;
};

TEST_F(CrashSafeFile, TempNeverVisibleUnderFinalName) {
  const fs::path out = dir_ / "out.jsonl";
  AtomicFile f(out);
  f.write(std::string(3 << 20, 'a'));  // past the buffer: bytes really are in the file
  EXPECT_FALSE(fs::exists(out));
  f.sync();
  EXPECT_FALSE(fs::exists(out));
  auto seen = names();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0][0], '.') << "the temporary file is hidden: " << seen[0];
  EXPECT_NE(seen[0], "out.jsonl");
  EXPECT_EQ(fs::file_size(f.temp_path()), 3u << 20);
  f.commit();
  EXPECT_EQ(names(), std::vector<std::string>{"out.jsonl"});
  EXPECT_EQ(slurp(out), std::string(3 << 20, 'a'));
}

TEST_F(CrashSafeFile, DiscardRemovesTempAndKeepsTheOldFile) {
  const fs::path out = dir_ / "out.bin";
  std::ofstream(out) << "old";
  {
    AtomicFile f(out);
    f.write(std::string(2 << 20, 'x'));
    const fs::path temp = f.temp_path();
    ASSERT_TRUE(fs::exists(temp));
    f.discard();
    EXPECT_FALSE(fs::exists(temp));
    EXPECT_THROW(f.write("more"), IoError) << "a discarded file takes no more bytes";
  }
  {
    AtomicFile g(out);  // destroyed without commit: same as discard
    g.write("new");
  }
  EXPECT_EQ(names(), std::vector<std::string>{"out.bin"});
  EXPECT_EQ(slurp(out), "old");
}

TEST_F(CrashSafeFile, TempMayLiveInAnotherFolderOfTheSameFilesystem) {
  fs::create_directories(dir_ / "tmp");
  fs::create_directories(dir_ / "done");
  AtomicFile f(open(dir_ / "tmp"), open(dir_ / "done"), "r.json", 0640);
  f.write("{}\n");
  EXPECT_EQ(f.temp_path().parent_path(), dir_ / "tmp");
  EXPECT_TRUE(fs::is_empty(dir_ / "done"));
  f.commit();
  EXPECT_TRUE(fs::is_empty(dir_ / "tmp"));
  EXPECT_EQ(slurp(dir_ / "done" / "r.json"), "{}\n");
  EXPECT_EQ(fs::status(dir_ / "done" / "r.json").permissions() & fs::perms::others_all,
            fs::perms::none);
}

TEST_F(CrashSafeFile, CommitNewNeverReplaces) {
  const fs::path out = dir_ / "job.json";
  std::ofstream(out) << "first";
  auto d = open(dir_);
  AtomicFile f(d, d, "job.json");
  f.write("second");
  EXPECT_FALSE(f.commit_new());
  EXPECT_EQ(slurp(out), "first");
  EXPECT_EQ(names(), std::vector<std::string>{"job.json"}) << "the loser's temp is removed";
  AtomicFile g(d, d, "other.json");
  g.write("third");
  EXPECT_TRUE(g.commit_new());
  EXPECT_EQ(slurp(dir_ / "other.json"), "third");
}

TEST_F(CrashSafeFile, MoveDurablyReplacesOnlyWhenTold) {
  auto d = open(dir_);
  std::ofstream(dir_ / "a") << "A";
  std::ofstream(dir_ / "b") << "B";
  EXPECT_FALSE(move_durably(*d, "a", *d, "b", Replace::no));
  EXPECT_EQ(slurp(dir_ / "a"), "A");
  EXPECT_EQ(slurp(dir_ / "b"), "B");
  EXPECT_FALSE(move_durably(*d, "gone", *d, "c", Replace::no)) << "a vanished source is false";
  EXPECT_FALSE(move_durably(*d, "gone", *d, "c", Replace::yes));
  EXPECT_TRUE(move_durably(*d, "a", *d, "c", Replace::no));
  EXPECT_TRUE(move_durably(*d, "c", *d, "b", Replace::yes));
  EXPECT_EQ(names(), std::vector<std::string>{"b"});
  EXPECT_EQ(slurp(dir_ / "b"), "A");
}

TEST_F(CrashSafeFile, WorkStaysInTheFolderThatWasOpened) {
  // The folder's path is swapped for a symlink to elsewhere after it was opened: the file still
  // lands in the folder the fd names (what lets a path policy check once, then open by fd).
  fs::create_directories(dir_ / "out");
  fs::create_directories(dir_ / "elsewhere");
  auto d = open(dir_ / "out");
  fs::rename(dir_ / "out", dir_ / "moved");
  fs::create_directory_symlink(dir_ / "elsewhere", dir_ / "out");
  AtomicFile f(d, d, "o.jsonl");
  f.write("x\n");
  f.commit();
  EXPECT_EQ(slurp(dir_ / "moved" / "o.jsonl"), "x\n");
  EXPECT_TRUE(fs::is_empty(dir_ / "elsewhere"));
}

TEST_F(CrashSafeFile, CleanerRemovesOnlyItsOwnStaleTemps) {
  // Left by a dead writer: the output, a companion, and another output in the same folder.
  in_crashing_child([&] {
    AtomicFile a(dir_ / "out.jsonl");
    a.write("half");
    a.sync();
    AtomicFile b(dir_ / "out.idx.npy");
    b.write("half");
    b.sync();
    AtomicFile c(dir_ / "other.jsonl");
    c.write("half");
    c.sync();
    ::_exit(0);
  });
  ASSERT_EQ(names().size(), 3u);
  // A user's files that merely look like temporary names, and the user's own output file.
  const std::vector<std::string> users = {
      "out.jsonl",
      ".out.jsonl.tmp-1-notes",
      ".out.jsonl.tmp-999999999-0123456789abcdef-1.bak",
      ".out.jsonl.tmp-999999999-0123456789ABCDEF-1",
      ".out.jsonl.tmp-999999999-01234567-1",
      "out.jsonl.tmp-999999999-0123456789abcdef-1",
      ".outline.txt.tmp-999999999-0123456789abcdef-1",
  };
  for (auto& u : users) std::ofstream(dir_ / u) << "mine";
  // Ours and still being written: this process, its own nonce.
  AtomicFile live(dir_ / "out.jsonl");
  live.write("busy");
  live.sync();
  // This pid, but an earlier process's nonce (a restarted daemon that got the same pid).
  const std::string reused = ".out.jsonl.tmp-" + std::to_string(::getpid()) + "-0000000000000000-7";
  std::ofstream(dir_ / reused) << "half";

  EXPECT_EQ(OutputSet::remove_stale_temps(dir_ / "out.jsonl"), 3u);
  auto left = names();
  for (auto& u : users)
    EXPECT_TRUE(std::find(left.begin(), left.end(), u) != left.end()) << u << " was removed";
  EXPECT_TRUE(fs::exists(live.temp_path())) << "a live writer's file is kept";
  EXPECT_FALSE(fs::exists(dir_ / reused));
  EXPECT_EQ(left.size(), users.size() + 2) << "users' files, the live temp, other.jsonl's temp";
  // The other output's stale temp goes when its own output is cleaned.
  EXPECT_EQ(OutputSet::remove_stale_temps(dir_ / "other.jsonl"), 1u);
  live.commit();
  EXPECT_EQ(slurp(dir_ / "out.jsonl"), "busy");
}

TEST_F(CrashSafeFile, CleanerKeepsTheTempOfAnotherRunningWriter) {
  int ready[2], release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(release), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready[0]);
    ::close(release[1]);
    AtomicFile f(dir_ / "out.jsonl");
    f.write("x");
    f.sync();
    char c = 1;
    (void)!::write(ready[1], &c, 1);
    (void)!::read(release[0], &c, 1);  // until the parent closes its end
    ::_exit(0);
  }
  ASSERT_GT(pid, 0);
  ::close(ready[1]);
  ::close(release[0]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  EXPECT_EQ(OutputSet::remove_stale_temps(dir_ / "out.jsonl"), 0u);
  EXPECT_EQ(names().size(), 1u);
  ::close(release[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ::close(ready[0]);
  EXPECT_EQ(OutputSet::remove_stale_temps(dir_ / "out.jsonl"), 1u);
  EXPECT_TRUE(names().empty());
}

TEST_F(CrashSafeFile, FailuresNameThePath) {
  const fs::path missing = dir_ / "no" / "such";
  std::string m = message_of([&] { AtomicFile f(missing / "x.jsonl"); });
  EXPECT_NE(m.find(missing.string()), std::string::npos) << m;
  EXPECT_NE(m.find("No such file or directory"), std::string::npos) << m;

  fs::create_directories(dir_ / "x.jsonl");
  m = message_of([&] { AtomicFile f(dir_ / "x.jsonl"); });
  EXPECT_NE(m.find((dir_ / "x.jsonl").string() + ": output path is a folder"), std::string::npos)
      << m;

  auto d = open(dir_);
  m = message_of([&] { d->read_file("absent.json", 100); });
  EXPECT_NE(m.find((dir_ / "absent.json").string()), std::string::npos) << m;
  std::ofstream(dir_ / "big.json") << std::string(200, 'b');
  m = message_of([&] { d->read_file("big.json", 100); });
  EXPECT_NE(m.find((dir_ / "big.json").string() + ": file too large"), std::string::npos) << m;
  fs::create_symlink(dir_ / "big.json", dir_ / "link.json");
  m = message_of([&] { d->read_file("link.json", 1000); });
  EXPECT_NE(m.find((dir_ / "link.json").string()), std::string::npos) << "symlinks refused: " << m;

  m = message_of([&] { AtomicFile f(d, d, "a/b"); });
  EXPECT_NE(m.find("not a file name inside " + dir_.string()), std::string::npos) << m;

  // Renaming a file onto a non-empty folder fails, naming both ends.
  std::ofstream(dir_ / "x.jsonl" / "inside") << "y";
  std::ofstream(dir_ / "f") << "f";
  m = message_of([&] { move_durably(*d, "f", *d, "x.jsonl", Replace::yes); });
  EXPECT_NE(m.find((dir_ / "f").string()), std::string::npos) << m;
  EXPECT_NE(m.find((dir_ / "x.jsonl").string()), std::string::npos) << m;
}

}  // namespace
