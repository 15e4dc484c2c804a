// Sharded jobs through one qkvd's local spool (docs/scale-out.md "Sharded jobs"): a 64-shard job
// over the test corpora ends every shard once, and the shards concatenated in index order are
// byte for byte the output of one `qkvd run`, and so are their OUT.ids.jsonl companions.
#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace qkv::test {
namespace {

using json = nlohmann::json;

TEST(ShardLocal, SixtyFourShardsConcatenateToTheUnshardedOutput) {
  Rig rig("threads: 2\n");
  std::vector<std::string> inputs;
  for (const char* name : {"code", "en", "ja", "mixed_edge", "ru", "zh"}) {
    fs::copy_file(fs::path(QKV_SOURCE_DIR) / "tests/data/corpus" / (std::string(name) + ".jsonl"),
                  rig.in / (std::string(name) + ".jsonl"));
    inputs.push_back((rig.in / (std::string(name) + ".jsonl")).string());
  }
  std::vector<std::string> run{bin("qkvd"),
                               "--config",
                               rig.config.string(),
                               "run",
                               "-p",
                               "bytes",
                               "-o",
                               (rig.out / "whole.jsonl").string(),
                               "-i"};
  run.insert(run.end(), inputs.begin(), inputs.end());
  auto whole = run_cmd(run);
  ASSERT_EQ(whole.code, 0) << whole.err;
  Daemon d(rig);
  d.start();
  std::vector<std::string> sub{bin("qkvctl"),
                               "--socket",
                               rig.socket.string(),
                               "submit",
                               "-p",
                               "bytes",
                               "--shards",
                               "64",
                               "--wait",
                               "-o",
                               (rig.out / "out.jsonl").string()};
  sub.insert(sub.end(), inputs.begin(), inputs.end());
  auto s = run_cmd(sub);
  ASSERT_EQ(s.code, 0) << s.err << s.out;
  // --wait waits for every shard (exit 0: all done); the parent manifest follows the last one.
  const std::string parent = s.out.substr(0, s.out.find('\n'));
  ASSERT_TRUE(eventually([&] { return fs::exists(rig.out / "out.manifest.json"); }, 120s))
      << d.log();
  std::string joined, joined_ids;
  for (int i = 0; i < 64; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "out-%05d-of-00064.jsonl", i);
    joined += read_text(rig.out / name);
    // Each shard's input ids beside it (input.id_field), named after the shard.
    std::snprintf(name, sizeof name, "out-%05d-of-00064.ids.jsonl", i);
    if (fs::exists(rig.out / name)) joined_ids += read_text(rig.out / name);
  }
  EXPECT_EQ(joined, read_text(rig.out / "whole.jsonl"));
  // The corpora's "id" fields, read here from the inputs, in input order.
  std::vector<json> want_ids, got_ids;
  for (const auto& in : inputs) {
    std::istringstream lines(read_text(in));
    for (std::string l; std::getline(lines, l);)
      if (!l.empty()) want_ids.push_back(json::parse(l).at("id"));
  }
  std::istringstream whole_ids(read_text(rig.out / "whole.ids.jsonl"));
  for (std::string l; std::getline(whole_ids, l);) got_ids.push_back(json::parse(l));
  EXPECT_EQ(got_ids, want_ids);
  EXPECT_EQ(joined_ids, read_text(rig.out / "whole.ids.jsonl"));
  auto m = json::parse(read_text(rig.out / "out.manifest.json"));
  EXPECT_EQ(m["job_id"], parent);
  ASSERT_EQ(m["parts"].size(), 64u);
  uint64_t documents = 0;
  for (auto& p : m["parts"]) documents += p["documents"].get<uint64_t>();
  auto wm = json::parse(read_text(rig.out / "whole.manifest.json"));
  EXPECT_EQ(documents, wm["documents"].get<uint64_t>());
  EXPECT_EQ(m["documents"], wm["documents"]);
  // Every shard ended once, done; nothing failed, no temporaries.
  std::size_t done = 0;
  for (auto& e : fs::directory_iterator(rig.spool / "done"))
    done += e.path().filename().string().ends_with(".report.json");
  EXPECT_EQ(done, 64u);
  EXPECT_TRUE(fs::is_empty(rig.spool / "failed"));
  for (auto& e : fs::directory_iterator(rig.out))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

}  // namespace
}  // namespace qkv::test
