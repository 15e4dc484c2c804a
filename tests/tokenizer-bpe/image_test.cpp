// Vocabulary images (plugins/tokenizer-bpe/src/image_file.*, bpe_image.cpp): an instance read
// from an image gives the goldens' ids, exactly as one built from the vocabulary; a corrupt,
// truncated or foreign image is rebuilt, never used; the key follows the vocabulary's bytes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "bpe.hpp"
#include "factory.hpp"
#include "vocab_image/image_bytes.hpp"
#include "image_file.hpp"
#include "scratch_files.hpp"
#include "test_data.hpp"
#include "tokenizers.hpp"

namespace qkv::bpe::test {
namespace {

// A scratch folder per test, named after it.
struct TempDir : test_files::ScratchDir {
  TempDir() : ScratchDir("qkv-bpe-image") {}
};
using test_files::slurp;
using test_files::spit;

std::vector<int32_t> encode(const Bpe& bpe, const std::string& text,
                            SpecialSelection::Kind kind = SpecialSelection::kDefault) {
  std::vector<int32_t> ids;
  bpe.encode(text, SpecialSelection{.kind = kind, .names = {}}, 0, ids, nullptr);
  return ids;
}

class ImageParity : public ::testing::TestWithParam<Source> {};

// Built once (and saved), then read back from the image: both give the goldens' ids.
TEST_P(ImageParity, IdsFromTheImageEqualTheGoldens) {
  const Source& src = GetParam();
  TempDir tmp;
  const BpeConfig cfg = config_for(src.name);
  auto first = make_bpe(cfg, tmp.str(), "test");
  ASSERT_EQ(first.source, ImageResult::kBuiltAndSaved) << first.note;
  auto second = make_bpe(cfg, tmp.str(), "test");
  ASSERT_EQ(second.source, ImageResult::kImage) << second.note;
  EXPECT_EQ(second.bpe->vocab_size(), first.bpe->vocab_size());
  for (const char* stem : {"en", "zh", "code", "mixed_edge"}) {
    const auto docs = corpus(stem, 60);
    const std::string gold_name = (src.hf && std::string(stem) == "mixed_edge")
                                      ? "mixed_edge.gpt2-hf"
                                      : std::string(stem) + "." + src.golden;
    const auto gold = golden(gold_name, 60);
    ASSERT_EQ(docs.size(), gold.size());
    for (size_t d = 0; d < docs.size(); ++d) {
      EXPECT_EQ(encode(*second.bpe, docs[d]), gold[d]) << stem << " document " << d;
      std::string back;
      second.bpe->decode(gold[d], back);
      if (std::string(stem) != "mixed_edge") {
        EXPECT_EQ(back, docs[d]) << stem << " doc " << d;
      }
    }
  }
  const auto all = corpus("mixed_edge");
  const auto gold_all = golden("mixed_edge." + src.golden + ".allowed_special");
  for (size_t d = 0; d < all.size(); ++d)
    EXPECT_EQ(encode(*second.bpe, all[d], SpecialSelection::kAll), gold_all[d]) << d;
  EXPECT_EQ(second.bpe->special_id("<|endoftext|>"), first.bpe->special_id("<|endoftext|>"));
  EXPECT_EQ(second.bpe->special_wrap().prefix, first.bpe->special_wrap().prefix);
}

INSTANTIATE_TEST_SUITE_P(Bpe, ImageParity, ::testing::ValuesIn(kSources),
                         [](const auto& info) { return info.param.name; });

// The file of a saved image, for the tests that damage it.
struct SavedImage {
  TempDir tmp;
  BpeConfig cfg = config_for("r50k_tiktoken");
  std::string path;
  SavedImage() {
    auto made = make_bpe(cfg, tmp.str(), "test");
    EXPECT_EQ(made.source, ImageResult::kBuiltAndSaved) << made.note;
    path = image_path(tmp.str(), image_key(cfg, "test"));
  }
  ImageResult load() { return make_bpe(cfg, tmp.str(), "test"); }
};

// A damaged image is rebuilt (and the rebuilt instance still gives the goldens), then
// replaced by a sound one that the next load uses.
void expect_rebuilt(SavedImage& s, const std::string& why) {
  auto made = s.load();
  EXPECT_EQ(made.source, ImageResult::kBuiltAndSaved);
  EXPECT_NE(made.note.find(why), std::string::npos) << made.note;
  const auto docs = corpus("en", 5);
  const auto gold = golden("en.r50k_base", 5);
  for (size_t d = 0; d < docs.size(); ++d) EXPECT_EQ(encode(*made.bpe, docs[d]), gold[d]);
  EXPECT_EQ(s.load().source, ImageResult::kImage);
}

TEST(BpeImage, AFlippedByteIsDetectedAndTheImageRebuilt) {
  SavedImage s;
  std::string bytes = slurp(s.path);
  bytes[bytes.size() / 2] ^= 0x01;
  spit(s.path, bytes);
  expect_rebuilt(s, "checksum mismatch");
}

TEST(BpeImage, ATruncatedImageIsRebuilt) {
  SavedImage s;
  std::string bytes = slurp(s.path);
  spit(s.path, bytes.substr(0, bytes.size() - 4096));
  expect_rebuilt(s, "truncated");
  spit(s.path, bytes.substr(0, 10));
  expect_rebuilt(s, "truncated header");
  spit(s.path, "");
  expect_rebuilt(s, "truncated header");
}

TEST(BpeImage, AnImageOfAnotherKeyIsNotUsed) {
  SavedImage s;
  // Another vocabulary's image under this key's file name (as a stale or swapped file).
  TempDir other;
  auto made = make_bpe(config_for("cl100k"), other.str(), "test");
  ASSERT_EQ(made.source, ImageResult::kBuiltAndSaved);
  std::filesystem::copy_file(image_path(other.str(), image_key(config_for("cl100k"), "test")),
                             s.path, std::filesystem::copy_options::overwrite_existing);
  expect_rebuilt(s, "built from another vocabulary");
}

TEST(BpeImage, KeyChangesWithTheVocabularyBytesVersionAndEncoding) {
  TempDir tmp;
  const BpeConfig cfg = config_for("r50k_tiktoken");
  const std::string key = image_key(cfg, "1.0.0");
  EXPECT_EQ(key.size(), 64u);
  // The same bytes at another path: the same image.
  BpeConfig copy = cfg;
  copy.ranks = (tmp.dir / "copy.tiktoken").string();
  const std::string bytes = slurp(cfg.ranks);
  spit(copy.ranks, bytes);
  EXPECT_EQ(image_key(copy, "1.0.0"), key);
  // Two tokens' ranks swapped (a valid, different vocabulary): another image.
  const size_t eol1 = bytes.find('\n'), eol2 = bytes.find('\n', eol1 + 1);
  ASSERT_NE(eol2, std::string::npos);
  auto token = [](std::string_view line) { return line.substr(0, line.find(' ')); };
  auto rank = [](std::string_view line) { return line.substr(line.find(' ')); };
  const std::string_view l1(bytes.data(), eol1), l2(bytes.data() + eol1 + 1, eol2 - eol1 - 1);
  const std::string changed = std::string(token(l1)).append(rank(l2)) + "\n" +
                              std::string(token(l2)).append(rank(l1)) + bytes.substr(eol2);
  spit(copy.ranks, changed);
  EXPECT_NE(image_key(copy, "1.0.0"), key);
  EXPECT_NE(image_key(cfg, "1.0.1"), key);
  BpeConfig other_encoding = cfg;
  other_encoding.encoding = "gpt2";
  EXPECT_NE(image_key(other_encoding, "1.0.0"), key);
  // A changed vocabulary is not served from the old image.
  auto first = make_bpe(cfg, tmp.str(), "1.0.0");
  ASSERT_EQ(first.source, ImageResult::kBuiltAndSaved);
  spit(copy.ranks, bytes);
  EXPECT_EQ(make_bpe(copy, tmp.str(), "1.0.0").source, ImageResult::kImage);
  spit(copy.ranks, changed);
  EXPECT_EQ(make_bpe(copy, tmp.str(), "1.0.0").source, ImageResult::kBuiltAndSaved);
}

// The payload's own checks, past a valid checksum: random damage to a small vocabulary's
// image is either refused with ImageError or gives an instance that encodes and decodes
// within bounds (ASan/UBSan builds check the reads).
TEST(BpeImage, DamagedPayloadsAreRefusedOrStaySafe) {
  const std::string payload = tokenizer("r50k_tiktoken").image();
  ASSERT_NO_THROW(Bpe::from_image(payload));
  std::mt19937_64 rng(12345);
  int refused = 0;
  const std::string text = "Hello, world! Ünïcödé 1234   tabs\tand <|endoftext|> specials";
  for (int trial = 0; trial < 150; ++trial) {
    std::string bad = payload;
    const int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      // Half the edits land in the first 600 KB (header, byte tables, arena, offsets).
      const size_t at =
          (rng() & 1) ? rng() % std::min<size_t>(bad.size(), 600000) : rng() % bad.size();
      bad[at] = char(rng());
    }
    if (trial % 10 == 0) bad.resize(rng() % bad.size());
    std::unique_ptr<Bpe> b;
    try {
      b = Bpe::from_image(bad);
    } catch (const ImageError&) {
      ++refused;
      continue;
    }
    std::vector<int32_t> ids;
    std::vector<uint32_t> offsets;
    b->encode(text, SpecialSelection{.kind = SpecialSelection::kAll, .names = {}}, 0, ids,
              &offsets);
    b->encode(text, SpecialSelection{.kind = SpecialSelection::kAll, .names = {}}, 0, ids,
              &offsets);  // again: the second pass replays the per-thread piece cache
    for (int32_t id : ids) EXPECT_LT(uint32_t(id), b->vocab_size());
    // Offsets come from token lengths on the cached path: they must stay within the text
    // (trim_offsets reads the text at them).
    for (size_t i = 0; i + 1 < offsets.size(); i += 2) {
      EXPECT_LE(offsets[i], offsets[i + 1]);
      EXPECT_LE(offsets[i + 1], text.size());
    }
    std::string out;
    try {
      b->decode(ids, out);
    } catch (const std::out_of_range&) {
    }
  }
  EXPECT_GT(refused, 0);
  // Targeted: each field the loader checks, made inconsistent, is refused.
  auto refuse = [&](size_t at, char value) {
    std::string bad = payload;
    bad[at] = value;
    EXPECT_THROW(Bpe::from_image(bad), ImageError) << "byte " << at;
  };
  refuse(0, char(0xFF));  // vocab size: over 2^21 (high byte of the first word)
  refuse(3, char(0x7F));
  refuse(8, char(9));      // pattern
  refuse(32, char(0xFF));  // byte 0's id
  EXPECT_THROW(Bpe::from_image(payload.substr(0, payload.size() - 8)), ImageError);
  EXPECT_THROW(Bpe::from_image(payload + std::string(8, '\0')), ImageError);
}

}  // namespace
}  // namespace qkv::bpe::test
