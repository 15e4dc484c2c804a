// Vocabulary images of WordPiece (plugins/tokenizer-wordpiece/wordpiece_image*.cpp): an instance
// read from an image gives HF's goldens, exactly as one built from the vocabulary (images off);
// a corrupt, truncated or foreign image is rebuilt, never used; a payload failing its bounds
// checks is refused; the key follows what the tables are built from.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "corpus_data.hpp"
#include "scratch_files.hpp"
#include "vocab_image/image_bytes.hpp"
#include "wordpiece_image_file.hpp"

namespace qkv::wordpiece {
namespace {

using testing::read_corpus;
using testing::read_golden;
using testing::source_path;

const std::string kVocab = "data/vocab/bert-base-uncased/vocab.txt";
const std::string kJson = "data/vocab/bert-base-uncased/tokenizer.json";

ModelSpec bert_spec() { return load_vocab_txt(source_path(kVocab)); }

// bert_spec() with one override set.
template <class Set>
ModelSpec bert_with(Set set) {
  ModelSpec spec = bert_spec();
  SpecOverrides o;
  set(o);
  apply_overrides(spec, o);
  return spec;
}
ModelSpec cased_spec() {
  return bert_with([](SpecOverrides& o) { o.lowercase = false; });
}

// A scratch folder per test, named after it.
struct TempDir : test_files::ScratchDir {
  TempDir() : ScratchDir("qkv-wp-image") {}
};
using test_files::slurp;
using test_files::spit;

// Every document of a corpus against its golden ids ([CLS] ... [SEP]); the number that differ.
int mismatches(const WordPieceTokenizer& tok, const std::string& corpus, size_t limit = 0) {
  const auto docs = read_corpus(corpus);
  const auto gold = read_golden(corpus + ".bert-base-uncased.jsonl.gz");
  EXPECT_EQ(docs.size(), gold.size()) << corpus;
  EncodeParams p;
  p.add_special = true;
  Encoding enc;
  int bad = 0;
  const size_t n = limit ? std::min(limit, docs.size()) : docs.size();
  for (size_t i = 0; i < n && i < gold.size(); ++i) {
    tok.encode(docs[i].text, p, enc);
    if (enc.ids != gold[i] && ++bad <= 3) ADD_FAILURE() << corpus << " document " << i;
  }
  return bad;
}

// The same tokenizer built (images off), built and saved, then read from its image: all three
// give the goldens on every corpus, and decode and look up tokens alike.
TEST(WordPieceImageParity, ImageOnAndOffGiveTheGoldens) {
  TempDir tmp;
  auto off = make_tokenizer(bert_spec(), "", "test");
  ASSERT_EQ(off.source, image::Source::kBuilt);
  auto first = make_tokenizer(bert_spec(), tmp.str(), "test");
  ASSERT_EQ(first.source, image::Source::kBuiltAndSaved) << first.note;
  auto on = make_tokenizer(bert_spec(), tmp.str(), "test");
  ASSERT_EQ(on.source, image::Source::kImage) << on.note;
  for (const char* corpus : {"en", "code", "ru", "zh", "ja", "mixed_edge"}) {
    EXPECT_EQ(mismatches(*off.tokenizer, corpus), 0) << "images off, " << corpus;
    EXPECT_EQ(mismatches(*on.tokenizer, corpus), 0) << "from the image, " << corpus;
  }
  EXPECT_EQ(on.tokenizer->unk_id(), 100);
  EXPECT_EQ(on.tokenizer->token_to_id("##ing"), off.tokenizer->token_to_id("##ing"));
  std::string a, b;
  const std::vector<int32_t> ids = {101, 7592, 1010, 2088, 999, 102};
  off.tokenizer->decode(ids, a);
  on.tokenizer->decode(ids, b);
  EXPECT_EQ(b, a);
  EXPECT_EQ(b, "hello, world!");
}

// Overrides change the tables: a cased (lowercase: false) tokenizer gets its own image, which
// gives the same ids as one built with that override.
TEST(WordPieceImageParity, OverridesGetTheirOwnImage) {
  TempDir tmp;
  const ModelSpec cased = cased_spec();
  ASSERT_NE(image_key(cased, "test"), image_key(bert_spec(), "test"));
  ASSERT_EQ(make_tokenizer(cased, tmp.str(), "test").source, image::Source::kBuiltAndSaved);
  auto on = make_tokenizer(cased, tmp.str(), "test");
  ASSERT_EQ(on.source, image::Source::kImage) << on.note;
  const WordPieceTokenizer built(cased);
  EncodeParams p;
  Encoding x, y;
  for (const auto& d : read_corpus("en")) {
    built.encode(d.text, p, x);
    on.tokenizer->encode(d.text, p, y);
    ASSERT_EQ(y.ids, x.ids) << d.id;
  }
}

// The file of a saved image, for the tests that damage it.
struct SavedImage {
  TempDir tmp;
  std::string path;
  SavedImage() {
    auto made = make_tokenizer(bert_spec(), tmp.str(), "test");
    EXPECT_EQ(made.source, image::Source::kBuiltAndSaved) << made.note;
    path = image_path(tmp.str(), image_key(bert_spec(), "test"));
  }
  ImageResult load() { return make_tokenizer(bert_spec(), tmp.str(), "test"); }
};

// A damaged image is rebuilt (and the rebuilt instance gives the goldens), then replaced by a
// sound one that the next load uses.
void expect_rebuilt(SavedImage& s, const std::string& why) {
  auto made = s.load();
  EXPECT_EQ(made.source, image::Source::kBuiltAndSaved);
  EXPECT_NE(made.note.find(why), std::string::npos) << made.note;
  EXPECT_EQ(mismatches(*made.tokenizer, "en", 20), 0);
  EXPECT_EQ(s.load().source, image::Source::kImage);
}

TEST(WordPieceImage, AFlippedByteIsDetectedAndTheImageRebuilt) {
  SavedImage s;
  std::string bytes = slurp(s.path);
  bytes[bytes.size() / 2] ^= 0x01;
  spit(s.path, bytes);
  expect_rebuilt(s, "checksum mismatch");
}

TEST(WordPieceImage, ATruncatedImageIsRebuilt) {
  SavedImage s;
  const std::string bytes = slurp(s.path);
  spit(s.path, bytes.substr(0, bytes.size() - 4096));
  expect_rebuilt(s, "truncated");
  spit(s.path, bytes.substr(0, 10));
  expect_rebuilt(s, "truncated header");
}

TEST(WordPieceImage, AnImageOfAnotherKeyIsNotUsed) {
  SavedImage s;
  // The cased tables' image under the uncased key's file name (a stale or swapped file).
  TempDir other;
  const ModelSpec cased = cased_spec();
  ASSERT_EQ(make_tokenizer(cased, other.str(), "test").source, image::Source::kBuiltAndSaved);
  std::filesystem::copy_file(image_path(other.str(), image_key(cased, "test")), s.path,
                             std::filesystem::copy_options::overwrite_existing);
  expect_rebuilt(s, "built from another vocabulary");
}

TEST(WordPieceImage, KeyFollowsTheTablesSources) {
  const ModelSpec spec = bert_spec();
  const std::string key = image_key(spec, "1.0.0");
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(image_key(bert_spec(), "1.0.0"), key);  // deterministic
  EXPECT_NE(image_key(spec, "1.0.1"), key);
  ModelSpec swapped = spec;  // two tokens' ids swapped: a valid, different vocabulary
  std::swap(swapped.vocab[2000], swapped.vocab[2001]);
  EXPECT_NE(image_key(swapped, "1.0.0"), key);
  ModelSpec joined = spec;  // "ab","c" vs "a","bc": the length prefixes tell them apart
  joined.vocab[2000] += joined.vocab[2001].substr(0, 1);
  joined.vocab[2001] = joined.vocab[2001].substr(1);
  EXPECT_NE(image_key(joined, "1.0.0"), key);
  EXPECT_NE(image_key(bert_with([](SpecOverrides& o) { o.clean_text = false; }), "1.0.0"), key);
  EXPECT_NE(image_key(bert_with([](SpecOverrides& o) { o.handle_chinese_chars = false; }), "1.0.0"),
            key);
  EXPECT_NE(image_key(bert_with([](SpecOverrides& o) { o.strip_accents = false; }), "1.0.0"), key);
  EXPECT_NE(image_key(bert_with([](SpecOverrides& o) { o.unk_token = "[MASK]"; }), "1.0.0"), key);
  // What the tables do not depend on (the prefix: walked on every load) shares the image.
  EXPECT_EQ(image_key(bert_with([](SpecOverrides& o) { o.prefix = "@@"; }), "1.0.0"), key);
}

// The payload's own checks, past a valid checksum.
TEST(WordPieceImage, DamagedPayloadsAreRefusedOrStaySafe) {
  const WordPieceTokenizer built(bert_spec());
  const std::string payload = built.image();
  ASSERT_NO_THROW(WordPieceTokenizer::from_image(bert_spec(), payload));
  // Section offsets (wordpiece_image.cpp): vocab size, pool size, 65536 entries of 8 bytes,
  // the pool (padded), trie size, cells of 8 bytes, values of 4 bytes (padded), one-char ids.
  uint64_t pool, cells;
  std::memcpy(&pool, payload.data() + 8, 8);
  const size_t entries = 16, pool_at = entries + 8 * 0x10000;
  const size_t trie_at = pool_at + (pool + 7) / 8 * 8;
  std::memcpy(&cells, payload.data() + trie_at, 8);
  const size_t cells_at = trie_at + 8, values_at = cells_at + 8 * cells;
  const size_t singles_at = values_at + (4 * cells + 7) / 8 * 8;
  ASSERT_EQ(singles_at + 4 * 0x10000, payload.size());

  const ModelSpec spec = bert_spec();
  auto refused = [&](size_t at, uint32_t value, const char* what) {
    std::string bad = payload;
    std::memcpy(bad.data() + at, &value, 4);
    ModelSpec copy = spec;
    try {
      WordPieceTokenizer::from_image(std::move(copy), bad);
      ADD_FAILURE() << what << ": accepted";
    } catch (const image::ImageError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
    // A refused image leaves the spec whole, for the rebuild.
    EXPECT_EQ(copy.vocab, spec.vocab) << what;
  };
  refused(0, 30523, "another vocabulary size");
  refused(entries + 8 * 'a' + 4, uint32_t(pool), "character table entry");  // offset
  refused(entries + 8 * 'a', 9, "character table entry");                   // kind
  refused(trie_at, 3, "trie size");
  // A size beyond what the payload holds is refused before anything is allocated (found by
  // fuzz.wordpiece_image: out of memory).
  refused(trie_at, 0x7ffff000, "truncated");
  refused(cells_at + 8 * 5, uint32_t(cells - 255), "trie base");
  refused(cells_at + 8 * 5, uint32_t(-1), "trie base");
  refused(values_at + 4 * 7, 30522, "trie value");
  // A value on a cell that ends no key (the root), and a key end without a value: refused.
  refused(values_at, 5, "trie value");
  refused(singles_at + 4 * ',', 30522, "one-char word id");
  refused(singles_at + 4 * ',', uint32_t(-1), "one-char word id");
  EXPECT_THROW(
      WordPieceTokenizer::from_image(ModelSpec(spec), payload.substr(0, payload.size() - 8)),
      image::ImageError);
  EXPECT_THROW(WordPieceTokenizer::from_image(ModelSpec(spec), payload + std::string(8, '\0')),
               image::ImageError);
  // An image whose trie lacks the unk token: refused as an image (rebuilt), not a config error.
  {
    ModelSpec other = spec;
    other.vocab[100] = other.unk_token = "[NOTUNK]";
    const std::string foreign = WordPieceTokenizer(other).image();
    EXPECT_THROW(WordPieceTokenizer::from_image(ModelSpec(spec), foreign), image::ImageError);
  }

  // Random damage: refused, or an instance whose ids stay in the vocabulary and whose offsets
  // stay in the text (ASan/UBSan builds check the reads).
  std::mt19937_64 rng(4321);
  int refusals = 0;
  const std::string text = "Hello, world! Ünïcödé 1234 naïve 中文字 [MASK] tabs\tand ##ing";
  EncodeParams p;
  p.add_special = true;
  p.offsets = true;
  for (int trial = 0; trial < 60; ++trial) {
    std::string bad = payload;
    for (int e = 0, edits = 1 + int(rng() % 4); e < edits; ++e)
      bad[rng() % bad.size()] = char(rng());
    std::unique_ptr<WordPieceTokenizer> t;
    try {
      t = WordPieceTokenizer::from_image(ModelSpec(spec), bad);
    } catch (const image::ImageError&) {
      ++refusals;
      continue;
    }
    Encoding enc;
    t->encode(text, p, enc);
    for (int32_t id : enc.ids) EXPECT_LT(uint32_t(id), t->vocab_size());
    for (uint32_t o : enc.offsets) EXPECT_LE(o, text.size());
  }
  EXPECT_GT(refusals, 0);
}

}  // namespace
}  // namespace qkv::wordpiece
