// limits.cache_bytes (2 GiB): the daemon's StageCache (daemon/pipeline/stage_cache.cpp) drops
// the least recently used tokenizer instances no job holds once the files they loaded pass
// it; a dropped one is loaded again when next needed. The test-bytes plugin writes
// <vocab>.loading at each load.
#include <gtest/gtest.h>

#include "limits_support.hpp"

namespace qkv::test {
namespace {

TEST(LimitsCache, TokenizersOverCacheBytesAreDroppedAndLoadedAgain) {
  Rig rig("limits: {cache_bytes: 3000000}\n");  // room for one 2 MB vocabulary, not two
  for (const char* name : {"v1", "v2"}) {
    make_sparse(rig.in / (std::string(name) + ".vocab"), 2000000);
    rig.write_pipeline(name, "tokenizer: {plugin: test-bytes, config: {vocab: " +
                                 (rig.in / (std::string(name) + ".vocab")).string() +
                                 "}}\noutput: {format: jsonl}\n");
  }
  const fs::path v1_loaded = rig.in / "v1.vocab.loading";
  Daemon d(rig);
  d.start();
  auto run = [&](const std::string& pipeline) {
    auto r = d.client().call({{"op", "run"}, {"pipeline", pipeline}, {"texts", {"ok"}}});
    EXPECT_EQ(r["results"], json::parse("[[111,107]]")) << r.dump();
  };
  run("v1");
  ASSERT_TRUE(fs::exists(v1_loaded));
  fs::remove(v1_loaded);
  run("v1");  // cached: not loaded again
  EXPECT_FALSE(fs::exists(v1_loaded));
  run("v2");  // 4 MB > 3 MB: v1 (unused, least recent) is dropped
  run("v1");
  EXPECT_TRUE(fs::exists(v1_loaded)) << "v1 was kept over limits.cache_bytes";
}

}  // namespace
}  // namespace qkv::test
