// Both implementations against the PyTorch fixtures (tests/attention/make_fixtures.py), per tensor
// |a - b| <= 1e-5 + 1e-4 * max|ref|.
#include "attention_case.hpp"
#include "flash_attention.hpp"
#include "io/sha256.hpp"
#include "reference_attention.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

namespace qkv::attention::test {
namespace {

struct Named {
  const char* name;
  AttentionFn impl;
};

const Named kImplementations[] = {{"reference", reference_forward}, {"flash", flash_forward}};

TEST(AttentionFixtures, ManifestListsEveryCase) {
  const auto names = fixture_names();
  for (const char* want : {"self", "causal_equal", "causal_short_q", "causal_long_q", "cross",
                           "ragged_none", "ragged_causal", "gqa", "mqa", "probs", "empty_keys"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
}

TEST(AttentionFixtures, FilesMatchTheManifest) {
  // A fixture edited by hand (not by make_fixtures.py) fails here.
  const auto dir = std::filesystem::path(QKV_SOURCE_DIR) / "tests/attention/fixtures";
  std::ifstream in(dir / "manifest.json");
  ASSERT_TRUE(in);
  const auto manifest = nlohmann::json::parse(in);
  EXPECT_TRUE(manifest.at("torch").get<std::string>().starts_with("1.13"));
  size_t n = 0;
  for (const auto& [file, sha] : manifest.at("files").items()) {
    EXPECT_EQ(io::sha256_file(dir / file), sha.get<std::string>()) << file;
    ++n;
  }
  size_t on_disk = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    on_disk += e.path().filename() != "manifest.json";
  EXPECT_EQ(n, on_disk) << "files in fixtures/ that the manifest does not list";
}

TEST(AttentionFixtures, BothImplementationsMatchTorch) {
  for (const auto& name : fixture_names()) {
    const Case c = load_fixture(name);
    for (const auto& [impl_name, impl] : kImplementations) {
      SCOPED_TRACE(std::string(impl_name) + " " + c.describe());
      const Result r = run(impl, c, !c.expected_probs.empty());
      EXPECT_EQ(compare(r.out, c.expected_out, "out"), "");
      if (!c.expected_probs.empty()) {
        EXPECT_EQ(compare(r.probs, c.expected_probs, "probs"), "");
      }
    }
  }
}

TEST(AttentionFixtures, FullyMaskedRowsAreZeroNotNaN) {
  // causal_long_q: Lq=10 > Lk=4, bottom-right aligned, so queries 0..5 see no key.
  const Case c = load_fixture("causal_long_q");
  for (const auto& [impl_name, impl] : kImplementations) {
    SCOPED_TRACE(impl_name);
    const Result r = run(impl, c, true);
    const size_t row = size_t(c.heads_q) * c.head_dim;
    for (size_t t = 0; t < 6; ++t)
      for (size_t i = 0; i < row; ++i) ASSERT_EQ(r.out[t * row + i], 0.0f) << "row " << t;
    for (size_t t = 6; t < 10; ++t) {
      double energy = 0;
      for (size_t i = 0; i < row; ++i) energy += std::abs(r.out[t * row + i]);
      EXPECT_GT(energy, 0.0) << "row " << t << " sees keys but came out zero";
    }
    for (float p : r.probs) ASSERT_FALSE(std::isnan(p));
  }
}

}  // namespace
}  // namespace qkv::attention::test
