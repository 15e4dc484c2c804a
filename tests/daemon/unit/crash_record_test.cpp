// The crash slot and record (daemon/crash/): what the signal handler writes is what recovery
// reads, for any bytes in the fields, and the scopes restore what they replaced.
#include <gtest/gtest.h>
#include <signal.h>

#include "crash/call_slot.hpp"
#include "crash/crash_record.hpp"
#include "crash/quarantine.hpp"

namespace qkv::crash {
namespace {

TEST(CrashRecord, TheSlotOfAPluginCallRoundTripsThroughARecord) {
  EXPECT_TRUE(current_slot().owner.empty());
  std::string pipeline = "pipe\nwith \"odd\" bytes \xff";
  char buf[1024];
  std::size_t n = 0;
  {
    OwnerScope owner("20261202-job-1", pipeline);
    {
      OwnerScope other("inline:abc", "p2");  // a oneTBB worker running another job's chunk
      EXPECT_EQ(current_slot().owner.id_view(), "inline:abc");
    }
    EXPECT_EQ(current_slot().owner.id_view(), "20261202-job-1");
    CallScope call("test-bytes", "encode");
    n = format_record(buf, sizeof buf, SIGSEGV, current_slot());
  }
  EXPECT_TRUE(current_slot().owner.empty());
  EXPECT_EQ(current_slot().call.plugin, nullptr);
  std::string text = "garbage before" + std::string(buf, n) + "qkv-crash 1 signal=6 torn";
  auto records = parse_records(text, "123-456");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].source, "123-456");
  EXPECT_EQ(records[0].signal, SIGSEGV);
  EXPECT_EQ(records[0].owner, "20261202-job-1");
  EXPECT_EQ(records[0].pipeline, pipeline);
  EXPECT_EQ(records[0].plugin, "test-bytes");
  EXPECT_EQ(records[0].call, "encode");
  EXPECT_EQ(describe(records[0]), "SIGSEGV in plugin 'test-bytes' (encode)");
}

TEST(CrashRecord, AThreadWorkingForNoOneWritesAnEmptyOwnerAndATooSmallBufferStillEndsTheLine) {
  char buf[1024];
  std::size_t n = format_record(buf, sizeof buf, SIGABRT, current_slot());
  auto records = parse_records(std::string(buf, n), "f");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0].owner.empty());
  EXPECT_EQ(describe(records[0]), "SIGABRT in qkvd itself (no plugin call)");
  char small[20];
  n = format_record(small, sizeof small, SIGABRT, current_slot());
  EXPECT_EQ(n, sizeof small);
  EXPECT_EQ(small[n - 1], '\n');
  EXPECT_TRUE(parse_records(std::string(small, n), "f").empty());
}

TEST(CrashRecord, InlineKeysDifferForEachPartOfTheRequest) {
  std::vector<std::pair<std::string, std::string>> none, set{{"a", "b"}};
  auto k = inline_key("p", none, {"ab", "c"});
  EXPECT_EQ(k.size(), 64u);
  EXPECT_EQ(k, inline_key("p", none, {"ab", "c"}));
  EXPECT_NE(k, inline_key("p", none, {"a", "bc"}));
  EXPECT_NE(k, inline_key("q", none, {"ab", "c"}));
  EXPECT_NE(k, inline_key("p", set, {"ab", "c"}));
}

}  // namespace
}  // namespace qkv::crash
