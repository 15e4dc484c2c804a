// limits.max_queued_per_submitter (default max_queue/4): one submitter cannot fill the queue
// for everyone, and queued jobs start round-robin across submitters
// (daemon/jobs/scheduler.cpp). Submitters are TCP tokens alice and bob.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <algorithm>

#include "limits_support.hpp"

namespace qkv::test {
namespace {

const std::string kAlice = "alice-0123456789abcdef0123456789abcdef";
const std::string kBob = "bob-0123456789abcdef0123456789abcdef012";

ctl::Client authed(uint16_t port, const std::string& token) {
  auto c = ctl::Client::connect_tcp("127.0.0.1", port);
  auto r = c.call({{"op", "auth"}, {"token", token}});
  EXPECT_TRUE(r.value("ok", false)) << r.dump();
  return c;
}

json wait_end(ctl::Client& c, const std::string& id) {
  c.send({{"op", "wait"}, {"id", id}});
  json ev = json::object();
  for (int i = 0; i < 10000 && ev.value("event", "") != "end"; ++i) ev = c.read_json(60s);
  return ev.value("job", json::object());
}

TEST(LimitsFairness, OneSubmitterCannotFillTheQueueAndJobsStartRoundRobin) {
  const uint16_t port = free_tcp_port();
  // max_queue 8: each submitter may hold 2 queued jobs; one job thread.
  Rig rig("threads: 1\nlimits: {max_queue: 8}\ntcp:\n  address: 127.0.0.1\n  port: " +
          std::to_string(port) + "\n");
  const fs::path tokens = rig.dir.path / "tokens";
  write_text(tokens, "alice:" + kAlice + "\nbob:" + kBob + "\n");
  ::chmod(tokens.c_str(), 0600);
  write_text(rig.config, read_text(rig.config) + "  tokens_file: " + tokens.string() + "\n");
  const fs::path release = write_hang_pipeline(rig);
  write_text(rig.in / "hang.jsonl", jsonl_of({"HANG"}));
  // 5 documents at 2 ms each (the rig's slow pipeline): start times differ by >= 10 ms.
  write_text(rig.in / "a.jsonl", jsonl_of({"a", "b", "c", "d", "e"}));
  Daemon d(rig);
  d.start();

  auto alice = authed(port, kAlice);
  auto bob = authed(port, kBob);
  int n = 0;
  auto submit = [&](ctl::Client& c, const std::string& pipeline, const std::string& input) {
    return c.call({{"op", "submit"},
                   {"pipeline", pipeline},
                   {"inputs", {(rig.in / input).string()}},
                   {"output", (rig.out / ("o" + std::to_string(n++) + ".jsonl")).string()}});
  };
  // Alice's first job runs (and hangs): the job thread is busy, the rest queue.
  auto blocker = submit(alice, "hang", "hang.jsonl");
  ASSERT_TRUE(blocker.value("ok", false)) << blocker.dump();
  ASSERT_TRUE(eventually([&] { return fs::exists(release.string() + ".started"); }));
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    auto r = submit(alice, "slow", "a.jsonl");
    ASSERT_TRUE(r.value("ok", false)) << r.dump();
    ids.push_back(r["id"]);
  }
  auto over = submit(alice, "slow", "a.jsonl");
  EXPECT_EQ(error_code_of(over), "queue_full") << over.dump();
  EXPECT_NE(error_message_of(over).find("limits.max_queued_per_submitter"), std::string::npos)
      << over.dump();
  // Bob still gets places, though alice asked first.
  for (int i = 0; i < 2; ++i) {
    auto r = submit(bob, "slow", "a.jsonl");
    ASSERT_TRUE(r.value("ok", false)) << r.dump();
    ids.push_back(r["id"]);
  }

  write_text(release, "go\n");
  EXPECT_EQ(wait_end(alice, blocker["id"])["state"], "done");
  std::vector<std::pair<std::string, std::string>> started;  // started_at, id
  for (auto& id : ids) {
    auto& c = id == ids[0] || id == ids[1] ? alice : bob;
    auto job = wait_end(c, id);
    EXPECT_EQ(job["state"], "done") << job.dump();
    started.emplace_back(job.value("started_at", ""), id);
  }
  std::sort(started.begin(), started.end());
  std::vector<std::string> order;
  for (auto& [at, id] : started) order.push_back(id);
  // Queued a1 a2 (alice) then b1 b2 (bob): they start a1 b1 a2 b2.
  EXPECT_EQ(order, (std::vector<std::string>{ids[0], ids[2], ids[1], ids[3]}));
}

}  // namespace
}  // namespace qkv::test
