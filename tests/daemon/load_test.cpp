// 32 concurrent clients, each with 50 jobs alternating inline `run` and file jobs: every job
// is answered, every result and output is right, nothing is lost.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace qkv::test {
namespace {

using json = nlohmann::json;

TEST(DaemonLoad, ThirtyTwoClientsFiftyJobsEachMixedInlineAndFile) {
  // Every client is the same uid here: one submitter, so it gets the whole queue.
  Rig s("limits: {max_queue: 64, max_queued_per_submitter: 64}\n");
  Daemon d(s);
  d.start();
  const int clients = 32, jobs = scaled(50);
  std::atomic<int> inline_ok{0}, files_ok{0};
  std::vector<std::string> failures(clients);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      try {
        auto client = d.client();
        for (int j = 0; j < jobs; ++j) {
          std::vector<std::string> texts;
          for (int k = 0; k <= (c + j) % 5; ++k)
            texts.push_back("c" + std::to_string(c) + " j" + std::to_string(j) + " k" +
                            std::to_string(k));
          if (j % 2 == 0) {
            auto r =
                client.call({{"op", "run"}, {"pipeline", "bytes"}, {"texts", texts}, {"tag", j}});
            std::string expect = "[";
            for (auto& line : bytes_ids_jsonl(texts)) expect += line == '\n' ? ',' : line;
            expect.back() = ']';
            if (!r.value("ok", false) || r["tag"] != j || r["results"] != json::parse(expect))
              throw std::runtime_error("inline run " + std::to_string(j) + ": " + r.dump());
            ++inline_ok;
          } else {
            std::string name = std::to_string(c) + "-" + std::to_string(j) + ".jsonl";
            write_text(s.in / name, jsonl_of(texts));
            auto r = client.call({{"op", "submit"},
                                  {"pipeline", "bytes"},
                                  {"inputs", {(s.in / name).string()}},
                                  {"output", (s.out / name).string()}});
            if (!r.value("ok", false)) throw std::runtime_error("submit " + name + ": " + r.dump());
            client.send({{"op", "wait"}, {"id", r["id"]}});
            json end;
            do end = client.read_json(120s);
            while (end.value("event", "") != "end");
            if (end["job"]["state"] != "done")
              throw std::runtime_error("job " + name + ": " + end.dump());
            if (read_text(s.out / name) != bytes_ids_jsonl(texts))
              throw std::runtime_error("wrong output " + name);
            ++files_ok;
          }
        }
      } catch (const std::exception& e) {
        failures[c] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int c = 0; c < clients; ++c) EXPECT_EQ(failures[c], "") << "client " << c;
  EXPECT_EQ(inline_ok.load(), clients * ((jobs + 1) / 2));
  EXPECT_EQ(files_ok.load(), clients * (jobs / 2));
  auto stats = d.client().call({{"op", "stats"}});
  EXPECT_EQ(stats["jobs"]["done"], clients * (jobs / 2));
  EXPECT_EQ(stats["jobs"]["failed"], 0);
  EXPECT_TRUE(fs::is_empty(s.spool / "incoming"));
  EXPECT_TRUE(fs::is_empty(s.spool / "active"));
}

}  // namespace
}  // namespace qkv::test
