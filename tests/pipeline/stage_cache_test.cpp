// StageCache's byte limit (limits.cache_bytes): over it, the least recently used entries no
// job holds are dropped; an entry a job holds is never dropped from under it.
#include <gtest/gtest.h>

#include <memory>

#include "pipeline/stage_cache.hpp"

namespace qkv {
namespace {

struct FakeStage final : pipeline::ModelStage {
  size_t max_tokens(size_t) const override { return 0; }
  pipeline::StageOutput run(const pipeline::TokenBatch&) const override { return {}; }
};

struct Counted {
  int makes = 0;
  pipeline::StageCache::MakeModel make() {
    return [this] {
      ++makes;
      return std::make_unique<FakeStage>();
    };
  }
};

TEST(StageCacheBytes, DropsLeastRecentlyUsedEntriesNoJobHolds) {
  pipeline::StageCache cache(100);
  Counted a, b, c;
  auto held_a = cache.model("a", a.make(), 60);
  auto held_b = cache.model("b", b.make(), 60);
  // 120 bytes, both in use: both stay.
  EXPECT_EQ(cache.models(), 2u);
  EXPECT_EQ(cache.bytes(), 120u);
  EXPECT_EQ(cache.model("a", a.make(), 60), held_a);
  EXPECT_EQ(a.makes, 1);

  held_b.reset();  // b's job ended; a is still in use
  cache.model("c", c.make(), 30);
  // 150 > 100: b (unused) goes, a (held) stays, c (just made) stays.
  EXPECT_EQ(cache.bytes(), 90u);
  EXPECT_EQ(cache.model("a", a.make(), 60), held_a);
  EXPECT_EQ(a.makes, 1);
  cache.model("b", b.make(), 60);
  EXPECT_EQ(b.makes, 2);  // made again after it was dropped
}

TEST(StageCacheBytes, NoLimitKeepsEverything) {
  pipeline::StageCache cache;
  Counted a, b;
  cache.model("a", a.make(), 1ull << 40);
  cache.model("b", b.make(), 1ull << 40);
  cache.model("a", a.make(), 1ull << 40);
  EXPECT_EQ(a.makes, 1);
  EXPECT_EQ(cache.models(), 2u);
}

}  // namespace
}  // namespace qkv
