// The output writers (io/output_writer.hpp), one per format, against bytes worked out by hand
// from docs/formats.md and .npy files parsed independently of qkv's writer (from the format spec,
// tests/pipeline/test_support.hpp): chunks in order, the trailing files, the manifest, and
// nothing visible before commit.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "../pipeline/test_support.hpp"
#include "io/output_writer.hpp"

namespace qkv::io {
namespace {

namespace fs = std::filesystem;
using test::read_npy_independently;
using test::slurp;
using test::TempDir;

using Ids = std::vector<std::vector<int32_t>>;
using Offsets = std::vector<std::vector<uint32_t>>;

// Formats `docs` (one entry per document, each per field) into one chunk and writes it.
void write_docs(OutputWriter& w, const std::vector<Ids>& docs,
                const std::vector<Offsets>& offs = {}) {
  std::string bytes;
  std::vector<int64_t> tokens;
  for (size_t d = 0; d < docs.size(); ++d) {
    const Offsets none(docs[d].size());
    tokens.push_back(w.append_document(bytes, {docs[d], offs.empty() ? none : offs[d], {}}));
  }
  w.write_chunk({bytes, tokens, {}, {}});
}

nlohmann::json manifest_of(const fs::path& p) { return nlohmann::json::parse(slurp(p)); }

TEST(OutputWriters, IdsJsonlOneLinePerDocumentInChunkOrder) {
  TempDir t;
  auto w = make_ids_jsonl_writer(t.path() / "o.jsonl", {}, false);
  EXPECT_FALSE(w->wants_offsets());
  write_docs(*w, {{{15496, 995}}, {{}}});
  write_docs(*w, {{{7}}});
  EXPECT_FALSE(fs::exists(t.path() / "o.jsonl")) << "nothing under the final name before commit";
  EXPECT_EQ(w->dtype(), "int32");
  auto paths = w->commit({{"documents", 3}});
  EXPECT_EQ(slurp(t.path() / "o.jsonl"), "[15496,995]\n[]\n[7]\n");
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ(paths.back(), t.path() / "o.manifest.json");
  auto m = manifest_of(paths.back());
  EXPECT_EQ(m["documents"], 3);
  ASSERT_EQ(m["outputs"].size(), 1u);
  EXPECT_EQ(m["outputs"][0]["bytes"], 19);  // 12 + 3 + 4
}

TEST(OutputWriters, IdsJsonlOffsetsAndFields) {
  TempDir t;
  auto w = make_ids_jsonl_writer(t.path() / "o.jsonl", {}, true);
  EXPECT_TRUE(w->wants_offsets());
  write_docs(*w, {{{1, 2}}}, {{{0, 5, 5, 11}}});
  w->commit({});
  EXPECT_EQ(slurp(t.path() / "o.jsonl"), "{\"ids\":[1,2],\"offsets\":[[0,5],[5,11]]}\n");

  auto k = make_ids_jsonl_writer(t.path() / "k.jsonl", {"query", "doc"}, false);
  write_docs(*k, {{{1}, {2, 3}}});
  k->commit({});
  EXPECT_EQ(slurp(t.path() / "k.jsonl"), "{\"query\":[1],\"doc\":[2,3]}\n");

  std::string inline_record;
  const Ids ids{{4}, {}};
  const Offsets none(2);
  append_ids_record(inline_record, {ids, none, {}}, std::vector<std::string>{"a", "b"}, false);
  EXPECT_EQ(inline_record, "{\"a\":[4],\"b\":[]}") << "an inline result is the line, no newline";
}

TEST(OutputWriters, IdsBinLittleEndianWithDocumentStarts) {
  TempDir t;
  auto w = make_ids_bin_writer(t.path() / "t.bin", false, std::nullopt);
  write_docs(*w, {{{0x61, 0x0102}}, {{}}});
  write_docs(*w, {{{0xffff, 1, 2}}});
  EXPECT_EQ(w->dtype(), "uint16");
  auto paths = w->commit({});
  EXPECT_EQ(slurp(t.path() / "t.bin"), std::string("\x61\x00\x02\x01\xff\xff\x01\x00\x02\x00", 10));
  auto idx = read_npy_independently(t.path() / "t.idx.npy");
  EXPECT_EQ(idx.descr, "<i8");
  EXPECT_EQ(idx.shape, (std::vector<int64_t>{4}));
  EXPECT_EQ(idx.values<int64_t>(), (std::vector<int64_t>{0, 2, 2, 5}));
  ASSERT_EQ(paths.size(), 3u);
  EXPECT_EQ(paths[1], t.path() / "t.idx.npy");

  auto narrow = make_ids_bin_writer(t.path() / "n.bin", false, std::nullopt);
  std::string bytes;
  const Ids too_big{{65536}};
  const Offsets none(1);
  EXPECT_THROW(narrow->append_document(bytes, {too_big, none, {}}), std::out_of_range);

  auto wide = make_ids_bin_writer(t.path() / "w.bin", true, std::nullopt);
  write_docs(*wide, {{{65536, 3}}});
  EXPECT_EQ(wide->dtype(), "uint32");
  wide->commit({});
  EXPECT_EQ(slurp(t.path() / "w.bin"), std::string("\x00\x00\x01\x00\x03\x00\x00\x00", 8));
}

TEST(OutputWriters, IdsBinSeparatorFollowsEachDocumentInsideItsRange) {
  TempDir t;
  auto w = make_ids_bin_writer(t.path() / "s.bin", false, 9);
  // The second document already ends with the separator (BERT's [SEP]): not doubled. An
  // empty document is the separator alone, as nanoGPT's prepare scripts write it.
  write_docs(*w, {{{1, 2}}, {{3, 9}}, {{}}});
  w->commit({});
  EXPECT_EQ(slurp(t.path() / "s.bin"),
            std::string("\x01\x00\x02\x00\x09\x00\x03\x00\x09\x00\x09\x00", 12));
  EXPECT_EQ(read_npy_independently(t.path() / "s.idx.npy").values<int64_t>(),
            (std::vector<int64_t>{0, 3, 5, 6}));
}

// Megatron-LM's MMIDIDX index, laid out by hand from its format description: magic, version,
// dtype code, sequence count, document count + 1, sizes, byte pointers, document boundaries.
TEST(OutputWriters, MegatronIndexedDataset) {
  TempDir t;
  auto w = make_megatron_writer(t.path() / "m.bin", 50257, 50256);
  EXPECT_EQ(w->dtype(), "uint16");
  write_docs(*w, {{{10, 11}}, {{12}}});
  auto paths = w->commit({});
  EXPECT_EQ(slurp(t.path() / "m.bin"), std::string("\x0a\x00\x0b\x00\x50\xc4\x0c\x00\x50\xc4", 10));
  std::string idx("MMIDIDX\0\0", 9);
  auto le = [&](uint64_t v, int n) {
    for (int i = 0; i < n; ++i) idx += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  le(1, 8);                      // version
  idx += '\x08';                 // uint16
  le(2, 8);                      // sequences
  le(3, 8);                      // documents + 1
  le(3, 4), le(2, 4);            // sizes (int32)
  le(0, 8), le(6, 8);            // pointers in bytes (int64)
  le(0, 8), le(1, 8), le(2, 8);  // document boundaries (int64)
  EXPECT_EQ(slurp(t.path() / "m.idx"), idx);
  ASSERT_EQ(paths.size(), 3u);
  EXPECT_EQ(paths[1], t.path() / "m.idx");

  auto big = make_megatron_writer(t.path() / "b.bin", 100277, std::nullopt);
  EXPECT_EQ(big->dtype(), "int32");
  write_docs(*big, {{{100000}}});
  big->commit({});
  EXPECT_EQ(slurp(t.path() / "b.bin"), std::string("\xa0\x86\x01\x00", 4));
  EXPECT_EQ(slurp(t.path() / "b.idx").substr(17, 1), "\x04") << "int32 dtype code";
}

TEST(OutputWriters, TensorNpyPerTokenWithOffsetsPerDocumentWithout) {
  TempDir t;
  auto w = make_tensor_npy_writer(t.path() / "v.npy");
  EXPECT_EQ(w->dtype(), "float32");
  // Chunk 1: documents of 2 and 1 tokens; chunk 2: one document of 3 tokens.
  const std::vector<float> tok1{1, 2, 3, 4, 5, 6}, len1{2, 1};
  const std::vector<int64_t> rows1{2, 1}, docs1{1, 1};
  const std::vector<float> tok2{7, 8, 9, 10, 11, 12}, len2{3};
  const std::vector<int64_t> rows2{3}, docs2{1};
  std::vector<TensorRows> c1{{"", 2, false, tok1, rows1}, {".len", 1, true, len1, docs1}};
  std::vector<TensorRows> c2{{"", 2, false, tok2, rows2}, {".len", 1, true, len2, docs2}};
  const std::vector<int64_t> tokens1{2, 1}, tokens2{3};
  w->write_chunk({"", tokens1, c1, {}});
  w->write_chunk({"", tokens2, c2, {}});
  auto paths = w->commit({});
  auto main = read_npy_independently(t.path() / "v.npy");
  EXPECT_EQ(main.descr, "<f4");
  EXPECT_EQ(main.shape, (std::vector<int64_t>{6, 2}));
  EXPECT_EQ(main.values<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  auto off = read_npy_independently(t.path() / "v.offsets.npy");
  EXPECT_EQ(off.values<int64_t>(), (std::vector<int64_t>{0, 2, 3, 6}));
  auto len = read_npy_independently(t.path() / "v.len.npy");
  EXPECT_EQ(len.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(len.values<float>(), (std::vector<float>{2, 1, 3}));
  EXPECT_FALSE(fs::exists(t.path() / "v.len.offsets.npy"));
  EXPECT_EQ(paths.size(), 4u);  // v.npy, v.offsets.npy, v.len.npy, manifest
}

TEST(OutputWriters, TensorNpyWithoutDocumentsIsAnEmptyArray) {
  TempDir t;
  auto w = make_tensor_npy_writer(t.path() / "e.npy");
  w->commit({});
  auto main = read_npy_independently(t.path() / "e.npy");
  EXPECT_EQ(main.shape, (std::vector<int64_t>{0}));
  EXPECT_TRUE(main.data.empty());
}

TEST(OutputWriters, DestroyedBeforeCommitLeavesNothing) {
  TempDir t;
  {
    auto w = make_ids_bin_writer(t.path() / "t.bin", false, std::nullopt);
    write_docs(*w, {{{1, 2, 3}}});
  }
  EXPECT_TRUE(fs::is_empty(t.path()));
}

}  // namespace
}  // namespace qkv::io
