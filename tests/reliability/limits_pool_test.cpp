// Small inline runs are done in place on the socket thread, watched (server/io_threads.hpp):
// one that outlasts its patience hands the sockets to a fresh thread. Others run on the
// bounded compute pool. Either way `health` keeps answering while a plugin call hangs or a
// 2 GB vocabulary loads, and a hanging run gets `timeout` after limits.request_timeout_seconds.
#include <gtest/gtest.h>

#include "limits_support.hpp"

namespace qkv::test {
namespace {

TEST(LimitsPool, HealthAnswersWhileAPluginCallHangsAndTheRunTimesOut) {
  Rig rig("limits: {request_timeout_seconds: 3}\n");
  const fs::path release = write_hang_pipeline(rig);
  Daemon d(rig);
  d.start();

  auto hung = d.client();
  hung.send({{"op", "run"}, {"pipeline", "hang"}, {"texts", {"a HANG here"}}});
  ASSERT_TRUE(eventually([&] { return fs::exists(release.string() + ".started"); }))
      << "the plugin call never began";

  auto ms = health_times(d, 5);
  EXPECT_LT(ms.front(), 100.0) << "fastest of 5 health replies took " << ms.front() << " ms";
  // Others are served meanwhile: stats, and an inline run on the other pool thread.
  auto c = d.client();
  EXPECT_TRUE(c.call({{"op", "stats"}}).value("ok", false));
  auto r = c.call({{"op", "run"}, {"pipeline", "bytes"}, {"texts", {"ok"}}});
  EXPECT_EQ(r["results"], json::parse("[[111,107]]")) << r.dump();

  // The hanging run gets a clear timeout while the plugin call is still stuck.
  auto reply = hung.read_json(30s);
  EXPECT_EQ(error_code_of(reply), "timeout") << reply.dump();
  EXPECT_NE(error_message_of(reply).find("limits.request_timeout_seconds"), std::string::npos)
      << reply.dump();
  EXPECT_FALSE(fs::exists(release));
  EXPECT_TRUE(d.client().call({{"op", "health"}}).value("ok", false));
  // The hanging run was small, so it ran in place, and another thread took the sockets over.
  auto stats = d.client().call({{"op", "stats"}});
  EXPECT_EQ(stats["inline"]["takeovers"], 1) << stats.dump();
  EXPECT_GE(stats["inline"]["in_place"], 2) << stats.dump();  // the hang and `bytes`
  write_text(release, "go\n");  // lets the stuck thread go before the daemon is killed
}

TEST(LimitsPool, HealthAnswersWhileATwoGigabyteVocabularyLoads) {
  // The vocabulary limit is raised so the load happens (LimitsVocab tests the default).
  Rig rig("limits: {max_vocab_bytes: 4294967296}\n");
  const fs::path vocab = rig.in / "big.vocab";
  make_sparse(vocab, 2ull << 30);
  // 2048 MiB at 5 ms each: the load lasts at least 10 s.
  rig.write_pipeline("bigvocab",
                     "tokenizer: {plugin: test-bytes, config: {vocab: " + vocab.string() +
                         ", vocab_delay_us: 5000}}\noutput: {format: jsonl}\n");
  Daemon d(rig);
  d.start();

  auto loading = d.client();
  loading.send({{"op", "run"}, {"pipeline", "bigvocab"}, {"texts", {"x"}}});
  ASSERT_TRUE(eventually([&] { return fs::exists(vocab.string() + ".loading"); }))
      << "the vocabulary load never began";

  auto ms = health_times(d, 5);
  EXPECT_LT(ms.front(), 100.0) << "fastest of 5 health replies took " << ms.front() << " ms";
  auto r = d.client().call({{"op", "run"}, {"pipeline", "bytes"}, {"texts", {"ok"}}});
  EXPECT_EQ(r["results"], json::parse("[[111,107]]")) << r.dump();
  EXPECT_FALSE(reply_ready(loading)) << "the load ended before health was checked";
}

// While a request runs, a connection that has stopped reading (a request's worth already
// buffered) and has nothing to write must stay alive: replies hold it only weakly.
TEST(LimitsPool, AConnectionWaitingOnAPoolRunWithReadingPausedStaysOpen) {
  Rig rig("limits: {request_timeout_seconds: 2}\n");
  const fs::path release = write_hang_pipeline(rig);
  Daemon d(rig);
  d.start();
  auto c = d.client();
  // A 20 KB text (the shared-arena size), then 2 MB of blank lines (ignored) and a health.
  c.send({{"op", "run"}, {"pipeline", "hang"}, {"texts", {"HANG" + std::string(20000, 'a')}}});
  std::string blank = std::string(999, ' ') + "\n";
  for (int i = 0; i < 2000; ++i) c.send_raw(blank);
  c.send({{"op", "health"}});
  ASSERT_TRUE(eventually([&] { return fs::exists(release.string() + ".started"); }));
  auto first = c.read_json(30s);
  EXPECT_EQ(error_code_of(first), "timeout") << first.dump();
  EXPECT_TRUE(c.read_json(30s).value("ok", false));
  write_text(release, "go\n");
}

}  // namespace
}  // namespace qkv::test
