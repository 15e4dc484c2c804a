// The path policy (io/path_policy.hpp): globs, symlinks, roots and limits on real folders.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

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
  PathPolicy p({{t.path / "in"}, {t.path / "out"}}, 0);
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
  PathPolicy no_spool({{t.path}, {t.path}}, 0, {t.path / "out"});
  EXPECT_EQ(code([&] { no_spool.resolve_output((t.path / "out" / "o.jsonl").string()); }),
            "path_denied");
  PathPolicy small({{t.path}, {t.path}}, 10);
  EXPECT_EQ(code([&] { small.resolve_inputs({(t.path / "outside" / "s.jsonl").string()}); }),
            "input_too_large");
}

TEST(PathPolicy, RefusesOutputsThatAreNotRegularFilesOrAreTheJobsInput) {
  Tmp t;
  fs::create_directories(t.path / "out");
  ASSERT_EQ(::mkfifo((t.path / "out" / "fifo.jsonl").c_str(), 0600), 0);
  PathPolicy p({{t.path}, {t.path, "/dev"}}, 0);
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

}  // namespace
}  // namespace qkv::io
