// The path policy (io/path_policy.hpp): globs, symlinks, roots and limits on real folders.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/open_beneath.hpp"
#include "io/output_set.hpp"
#include "io/path_policy.hpp"

namespace qkv::io {
namespace {

struct Tmp {
  Tmp() {
    char t[] = "/tmp/qkvpolicy-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~Tmp() { fs::remove_all(path); }
  fs::path path;
};

void touch(const fs::path& p, const std::string& s = "x") { std::ofstream(p) << s; }

TEST(PathPolicy, ResolvesInsideRootsOnly) {
  Tmp t;
  fs::create_directories(t.path / "in" / "sub");
  fs::create_directories(t.path / "out");
  fs::create_directories(t.path / "outside");
  touch(t.path / "in" / "b.jsonl");
  touch(t.path / "in" / "a.jsonl");
  touch(t.path / "in" / "x[1].jsonl");
  touch(t.path / "outside" / "s.jsonl", std::string(50, 'z'));
  fs::create_symlink(t.path / "outside" / "s.jsonl", t.path / "in" / "sub" / "link.jsonl");
  PathPolicy p({{t.path / "in"}, {t.path / "out"}, {}}, 0);
  auto in = (t.path / "in").string();
  EXPECT_EQ(p.resolve_inputs({in + "/*.jsonl"}),
            (std::vector<std::string>{in + "/a.jsonl", in + "/b.jsonl", in + "/x\\[1].jsonl"}));
  EXPECT_EQ(p.resolve_inputs({in + "/sub/../a.jsonl"}), std::vector<std::string>{in + "/a.jsonl"});
  auto code = [&](auto f) {
    try {
      f();
    } catch (const PathError& e) {
      return e.code();
    }
    return std::string("ok");
  };
  EXPECT_EQ(code([&] { p.resolve_inputs({in + "/../outside/s.jsonl"}); }), "path_denied");
  EXPECT_EQ(code([&] { p.resolve_inputs({in + "/sub/link.jsonl"}); }), "path_denied");
  EXPECT_EQ(code([&] { p.resolve_inputs({"in/a.jsonl"}); }), "bad_request");
  EXPECT_EQ(code([&] { p.resolve_inputs({in + "/none.jsonl"}); }), "not_found");
  EXPECT_EQ(code([&] { p.resolve_inputs({in + "/*.txt"}); }), "not_found");
  EXPECT_EQ(code([&] { p.resolve_output((t.path / "outside" / "o").string()); }), "path_denied");
  EXPECT_EQ(code([&] { p.resolve_output((t.path / "out" / ".." / "o").string()); }), "path_denied");
  EXPECT_EQ(code([&] { p.resolve_output((t.path / "out").string() + "/"); }), "bad_request");
  EXPECT_EQ(p.resolve_output((t.path / "out" / "o.jsonl").string()),
            (t.path / "out" / "o.jsonl").string());
  PathPolicy no_spool({{t.path}, {t.path}, {}}, 0, {{t.path / "out"}, {}});
  EXPECT_EQ(code([&] { no_spool.resolve_output((t.path / "out" / "o.jsonl").string()); }),
            "path_denied");
  PathPolicy small({{t.path}, {t.path}, {}}, 10);
  EXPECT_EQ(code([&] { small.resolve_inputs({(t.path / "outside" / "s.jsonl").string()}); }),
            "input_too_large");
}

TEST(PathPolicy, RefusesOutputsThatAreNotRegularFilesOrAreTheJobsInput) {
  Tmp t;
  fs::create_directories(t.path / "out");
  ASSERT_EQ(::mkfifo((t.path / "out" / "fifo.jsonl").c_str(), 0600), 0);
  PathPolicy p({{t.path}, {t.path, "/dev"}, {}}, 0);
  auto code = [](auto f) {
    try {
      f();
    } catch (const PathError& e) {
      return e.code();
    }
    return std::string("accepted");
  };
  EXPECT_EQ(code([&] { p.resolve_output((t.path / "out" / "fifo.jsonl").string()); }),
            "bad_request");
  EXPECT_EQ(code([&] { p.resolve_output("/dev/null"); }), "bad_request");
  touch(t.path / "out" / "in.jsonl");
  auto inputs = p.resolve_inputs({(t.path / "out" / "in.jsonl").string()});
  auto output = p.resolve_output((t.path / "out" / "in.jsonl").string());
  EXPECT_EQ(code([&] { refuse_output_onto_inputs(output, inputs); }), "bad_request");
  // Through a second name (hard link) it is still the same file.
  fs::create_hard_link(t.path / "out" / "in.jsonl", t.path / "out" / "alias.jsonl");
  auto alias = p.resolve_output((t.path / "out" / "alias.jsonl").string());
  EXPECT_EQ(code([&] { refuse_output_onto_inputs(alias, inputs); }), "bad_request");
  auto other = p.resolve_output((t.path / "out" / "other.jsonl").string());
  EXPECT_EQ(code([&] { refuse_output_onto_inputs(other, inputs); }), "accepted");
}

template <class F>
std::string code_of(F f) {
  try {
    f();
  } catch (const PathError& e) {
    return e.code();
  }
  return "accepted";
}

TEST(PathPolicy, MissingPathsOutsideTheRootsAreDeniedNotReportedMissing) {
  Tmp t;
  fs::create_directories(t.path / "in");
  PathPolicy p({{t.path / "in"}, {t.path / "in"}, {}}, 0);
  EXPECT_EQ(code_of([&] { p.resolve_inputs({(t.path / "nowhere.jsonl").string()}); }),
            "path_denied");
  EXPECT_EQ(code_of([&] { p.resolve_inputs({(t.path / "in" / "nowhere.jsonl").string()}); }),
            "not_found");
  EXPECT_EQ(code_of([&] { p.resolve_asset("/etc/nonexistent-qkv", "/", "tokenizer.config.v"); }),
            "path_denied");
  PathPolicy none({}, 0);  // no roots at all: every client path is refused, naming the key
  try {
    none.resolve_inputs({(t.path / "in").string()});
    ADD_FAILURE() << "accepted";
  } catch (const PathError& e) {
    EXPECT_NE(std::string(e.what()).find("roots.input is empty or not set"), std::string::npos)
        << e.what();
  }
}

TEST(PathPolicy, AssetsResolveInsideTheModelOrInputRoots) {
  Tmp t;
  for (const char* d : {"in", "models", "secret"}) fs::create_directories(t.path / d);
  touch(t.path / "models" / "vocab.txt");
  touch(t.path / "in" / "v.txt");
  touch(t.path / "secret" / "key");
  fs::create_symlink(t.path / "secret" / "key", t.path / "models" / "link");
  PathPolicy p({{t.path / "in"}, {}, {t.path / "models"}}, 0);
  EXPECT_EQ(p.resolve_asset("vocab.txt", t.path / "models", "k"),
            (t.path / "models" / "vocab.txt").string());
  EXPECT_EQ(p.resolve_asset((t.path / "in" / "v.txt").string(), "/", "k"),
            (t.path / "in" / "v.txt").string());
  EXPECT_EQ(code_of([&] { p.resolve_asset("../secret/key", t.path / "models", "k"); }),
            "path_denied");
  EXPECT_EQ(code_of([&] { p.resolve_asset("link", t.path / "models", "k"); }), "path_denied");
}

// Each open is checked beneath the root fd, whatever was checked at submit: both the openat2
// and the per-component fallback path.
class PolicyOpens : public ::testing::TestWithParam<bool> {
  void SetUp() override { force_open_beneath_fallback_for_testing(GetParam()); }
  void TearDown() override { force_open_beneath_fallback_for_testing(false); }
};

TEST_P(PolicyOpens, AFolderSwappedForASymlinkAfterTheCheckIsRefused) {
  Tmp t;
  for (const char* d : {"in/sub", "out/sub", "secret"}) fs::create_directories(t.path / d);
  touch(t.path / "in" / "sub" / "a.jsonl", "public");
  touch(t.path / "secret" / "a.jsonl", "secret");
  PathPolicy p({{t.path / "in"}, {t.path / "out"}, {}}, 0);
  const auto inputs = p.resolve_inputs({(t.path / "in" / "sub" / "a.jsonl").string()});
  const auto output = p.resolve_output((t.path / "out" / "sub" / "o.jsonl").string());
  EXPECT_TRUE(p.open_input(inputs[0]));
  fs::rename(t.path / "in" / "sub", t.path / "in" / "old");
  fs::create_directory_symlink(t.path / "secret", t.path / "in" / "sub");
  fs::rename(t.path / "out" / "sub", t.path / "out" / "old");
  fs::create_directory_symlink(t.path / "secret", t.path / "out" / "sub");
  EXPECT_EQ(code_of([&] { p.open_input(inputs[0]); }), "path_denied");
  EXPECT_EQ(code_of([&] { p.open_output(output, {}, true); }), "path_denied");
}

TEST_P(PolicyOpens, OutputRulesHoldWhereTheOutputIsOpened) {
  Tmp t;
  for (const char* d : {"out/spool/tmp", "out/pipelines"}) fs::create_directories(t.path / d);
  touch(t.path / "out" / "qkvd.yaml");
  touch(t.path / "out" / "in.jsonl");
  touch(t.path / "out" / "old.jsonl", "old");
  ProtectedPaths keep{{t.path / "out" / "spool", t.path / "out" / "pipelines"},
                      {t.path / "out" / "qkvd.yaml"}};
  for (const PathPolicy& p :
       {PathPolicy({{t.path}, {t.path}, {}}, 0, keep), PathPolicy::unrestricted(keep)}) {
    auto open = [&](const char* rel, bool replace = true) {
      const std::vector<fs::path> in{t.path / "out" / "in.jsonl"};
      return code_of([&] { p.open_output(t.path / rel, in, replace); });
    };
    EXPECT_EQ(open("out/spool/tmp/x.jsonl"), "path_denied");
    EXPECT_EQ(open("out/pipelines/x.yaml"), "path_denied");
    EXPECT_EQ(open("out/qkvd.yaml"), "path_denied");
    EXPECT_EQ(open("out/in.jsonl"), "bad_request");
    EXPECT_EQ(open("out/old.jsonl", false), "output_exists");
    EXPECT_EQ(open("out/new.jsonl", false), "accepted");
    EXPECT_EQ(open("out/old.jsonl"), "accepted");
  }
}

INSTANTIATE_TEST_SUITE_P(Openat2AndFallback, PolicyOpens, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "fallback" : "openat2"; });

TEST(PathPolicy, AReplacedOutputKeepsItsModeAndANewOneIsNotReplacedWhenToldSo) {
  Tmp t;
  const fs::path f = t.path / "o.jsonl";
  touch(f, "old");
  ::chmod(f.c_str(), 0640);
  {
    OutputSet set(f);
    set.add(f).write("new");
    set.commit({});
  }
  struct stat st {};
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  // overwrite: false and a file that appears during the run: commit refuses, keeps it.
  PathPolicy p = PathPolicy::unrestricted();
  const fs::path g = t.path / "late.jsonl";
  OutputSet late(p.open_output(g, {}, false));
  late.add(g).write("mine");
  touch(g, "theirs");
  EXPECT_EQ(code_of([&] { late.commit({}); }), "output_exists");
  std::ifstream in(g);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(s, "theirs");
}

// After a crash, an interrupted job's temporaries are removed from its output folder: through
// the folder opened beneath the output root, so a folder swapped for a symlink since the job
// was accepted is not where anything is deleted (issue 10 item 2).
TEST(PathPolicy, StaleTempCleanupDoesNotFollowASwappedOutputFolder) {
  Tmp t;
  fs::create_directories(t.path / "out" / "job");
  fs::create_directories(t.path / "victim");
  const std::string stale = ".x.jsonl.tmp-999999999-0123456789abcdef-1";  // a dead writer's
  touch(t.path / "victim" / stale, "someone else's");
  touch(t.path / "out" / "job" / stale, "ours");
  PathPolicy p({{}, {t.path / "out"}, {}}, 0);
  fs::rename(t.path / "out" / "job", t.path / "out" / "job.before");
  fs::create_directory_symlink(t.path / "victim", t.path / "out" / "job");
  EXPECT_EQ(OutputSet::remove_stale_temps(t.path / "out" / "job" / "x.jsonl", &p), 0u);
  EXPECT_TRUE(fs::exists(t.path / "victim" / stale)) << "cleanup followed the symlink";
  // Unswapped, the same cleanup does its job.
  fs::remove(t.path / "out" / "job");
  fs::rename(t.path / "out" / "job.before", t.path / "out" / "job");
  EXPECT_EQ(OutputSet::remove_stale_temps(t.path / "out" / "job" / "x.jsonl", &p), 1u);
  EXPECT_FALSE(fs::exists(t.path / "out" / "job" / stale));
}

}  // namespace
}  // namespace qkv::io
