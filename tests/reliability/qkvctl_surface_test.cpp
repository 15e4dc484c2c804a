// qkvctl's scriptable surface (issue 11 item 6), against a real qkvd: scripts parse these, so
// they are part of the interface. submit prints the job id alone on its first stdout line;
// list keeps its columns; status has one `state:` line; --json gives the job view.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace qkv::test {
namespace {

using json = nlohmann::json;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(QkvctlSurface, SubmitListStatusAndJsonKeepTheirShape) {
  Rig s;
  write_text(s.in / "a.jsonl", jsonl_of({"one", "two"}));
  Daemon d(s);
  d.start();
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {bin("qkvctl"), "--socket", s.socket.string()});
    return run_cmd(args);
  };
  auto sub = ctl(
      {"submit", "-p", "bytes", "-o", (s.out / "a.jsonl").string(), (s.in / "a.jsonl").string()});
  ASSERT_EQ(sub.code, 0) << sub.err;
  auto out = lines_of(sub.out);
  ASSERT_FALSE(out.empty());
  const std::string id = out[0];
  EXPECT_TRUE(std::regex_match(id, std::regex("[A-Za-z0-9][A-Za-z0-9._-]*"))) << sub.out;
  ASSERT_TRUE(eventually([&] {
    return d.client().call({{"op", "status"}, {"id", id}})["job"].value("state", "") == "done";
  }));

  auto list = ctl({"list"});
  ASSERT_EQ(list.code, 0) << list.err;
  auto rows = lines_of(list.out);
  ASSERT_GE(rows.size(), 2u) << list.out;
  EXPECT_TRUE(std::regex_match(rows[0], std::regex("ID +STATE +DONE +PIPELINE +SUBMITTED")))
      << rows[0];
  bool found = false;
  for (std::size_t i = 1; i < rows.size(); ++i)
    if (rows[i].rfind(id + " ", 0) == 0) {
      found = true;
      EXPECT_TRUE(std::regex_search(rows[i], std::regex(" done +100% +bytes +20[0-9]{2}-")))
          << rows[i];
    }
  EXPECT_TRUE(found) << list.out;

  auto st = ctl({"status", id});
  ASSERT_EQ(st.code, 0) << st.err;
  int state_lines = 0;
  for (auto& l : lines_of(st.out))
    if (l.rfind("state:", 0) == 0) {
      ++state_lines;
      EXPECT_TRUE(std::regex_match(l, std::regex("state: +done.*"))) << l;
    }
  EXPECT_EQ(state_lines, 1) << st.out;

  auto js = ctl({"status", "--json", id});
  ASSERT_EQ(js.code, 0) << js.err;
  auto view = json::parse(js.out)["job"];
  auto direct = d.client().call({{"op", "status"}, {"id", id}})["job"];
  EXPECT_EQ(view, direct);
  for (auto* k : {"id", "state", "pipeline", "inputs", "output", "submitted_by", "progress",
                  "submitted_at", "ended_at", "result"})
    EXPECT_TRUE(view.contains(k)) << k << " missing in " << view.dump();
  EXPECT_EQ(view["id"], id);

  auto sj = ctl({"submit", "--json", "-p", "bytes", "-o", (s.out / "b.jsonl").string(),
                 (s.in / "a.jsonl").string()});
  ASSERT_EQ(sj.code, 0) << sj.err;
  auto reply = json::parse(lines_of(sj.out).at(0));
  EXPECT_TRUE(reply.value("ok", false));
  EXPECT_TRUE(reply.contains("id"));
}

// A done job that skipped bad records (input.on_error: skip) says so in `status` and `wait`,
// not only in its manifest: one result line, and wait's summary line stays the first.
TEST(QkvctlSurface, StatusAndWaitShowSkippedRecords) {
  Rig s;
  write_text(s.in / "bad.jsonl", "{\"text\":\"one\"}\n{\"text\": oops}\n{\"text\":\"two\"}\n");
  Daemon d(s);
  d.start();
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {bin("qkvctl"), "--socket", s.socket.string()});
    return run_cmd(args);
  };
  auto sub = ctl({"submit", "-p", "bytes", "--set", "input.on_error=skip", "-o",
                  (s.out / "bad.jsonl").string(), (s.in / "bad.jsonl").string()});
  ASSERT_EQ(sub.code, 0) << sub.err;
  const std::string id = lines_of(sub.out).at(0);
  auto wait = ctl({"wait", id});
  ASSERT_EQ(wait.code, 0) << wait.err;
  auto wl = lines_of(wait.out);
  ASSERT_GE(wl.size(), 2u) << wait.out;
  EXPECT_EQ(wl[0].rfind("job " + id + " done: 3 documents", 0), 0u) << wait.out;
  EXPECT_EQ(wl[1], "job " + id + ": 1 bad records skipped (OUT.rejects.jsonl)") << wait.out;
  auto st = ctl({"status", id});
  ASSERT_EQ(st.code, 0) << st.err;
  EXPECT_NE(st.out.find("result:    3 documents, 6 tokens, 1 bad records skipped"),
            std::string::npos)
      << st.out;
  EXPECT_EQ(read_text(s.out / "bad.jsonl"), "[111,110,101]\n[116,119,111]\n");
  EXPECT_TRUE(fs::exists(s.out / "bad.rejects.jsonl"));
}

}  // namespace
}  // namespace qkv::test
