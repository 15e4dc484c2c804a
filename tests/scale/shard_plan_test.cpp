// The shard planner (jobs/shard_plan.hpp), in-process: every split of a set of inputs reads, shard
// after shard, exactly the records of the whole inputs, in order, with the files' own offsets;
// a compressed file is never cut inside.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "io/inputs.hpp"
#include "jobs/shard_plan.hpp"

namespace qkv::jobs {
namespace {

namespace fs = std::filesystem;

struct Dir {
  Dir() {
    path = fs::temp_directory_path() / ("qkv-shard-plan-" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~Dir() { fs::remove_all(path); }
  fs::path path;
};

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

void write_gz(const fs::path& p, const std::string& bytes) {
  gzFile f = gzopen(p.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

struct Record {
  std::string bytes, file;
  uint64_t offset;
  bool operator==(const Record&) const = default;
};

std::vector<Record> read_all(std::vector<io::InputFile> files) {
  std::vector<Record> out;
  io::LineStream s(files);
  io::RawLine l;
  while (s.next(l)) out.push_back({l.bytes, files[l.file].path.filename().string(), l.offset});
  return out;
}

// The records of one shard, as a worker reads them (encode_job.cpp applies the slice so).
std::vector<Record> read_shard(const ShardPart& p) {
  auto files = io::expand_inputs(p.inputs, nullptr);
  files.front().begin = p.slice.begin;
  files.back().end = p.slice.end;
  return read_all(files);
}

TEST(ShardPlan, ShardsReadTheWholeInputsOnceInOrder) {
  Dir d;
  // Blank lines inside (records: bad records of a jsonl) and at the end (not records), a BOM, a
  // CRLF line, a compressed file and an empty one.
  std::string a = "\xEF\xBB\xBF{\"text\":\"a0\"}\n";
  for (int i = 1; i < 300; ++i) {
    a += "{\"text\":\"a" + std::to_string(i) + std::string(i % 37, 'x') + "\"}";
    a += i % 50 == 0 ? "\r\n" : "\n";
    if (i % 41 == 0) a += "\n  \n";
  }
  a += "\n\n";
  std::string b;
  for (int i = 0; i < 120; ++i) b += "{\"text\":\"b" + std::to_string(i) + "\"}\n";
  write(d.path / "a.jsonl", a);
  write_gz(d.path / "b.jsonl.gz", b);
  write(d.path / "c.jsonl", "");
  write(d.path / "d.jsonl", b + "{\"text\":\"no final LF\"}");
  const std::vector<std::string> args{(d.path / "a.jsonl").string(),
                                      (d.path / "b.jsonl.gz").string(),
                                      (d.path / "c.jsonl").string(), (d.path / "d.jsonl").string()};
  const auto files = io::expand_inputs(args, nullptr);
  const auto whole = read_all(files);
  ASSERT_GT(whole.size(), 500u);
  for (unsigned n : {1u, 2u, 3u, 7u, 64u, 1000u}) {
    auto parts = plan_shards(files, n);
    ASSERT_EQ(parts.size(), n);
    std::vector<Record> joined;
    std::size_t nonempty = 0;
    for (auto& p : parts) {
      // A compressed input is read whole or not at all.
      for (std::size_t i = 0; i < p.inputs.size(); ++i)
        if (p.inputs[i].ends_with(".gz")) {
          const bool empty = p.slice.end <= p.slice.begin;  // more shards than records
          if (i == 0 && !empty) {
            EXPECT_EQ(p.slice.begin, 0u) << n;
          }
          if (i + 1 == p.inputs.size() && !empty) {
            EXPECT_EQ(p.slice.end, io::kToEnd) << n;
          }
        }
      auto r = read_shard(p);
      // Its first document's index in the whole job: the records of the shards before it.
      EXPECT_EQ(p.slice.first_document, std::optional<uint64_t>(joined.size())) << n;
      nonempty += !r.empty();
      joined.insert(joined.end(), r.begin(), r.end());
    }
    EXPECT_EQ(joined, whole) << n << " shards";
    if (n <= 64) {
      EXPECT_GE(nonempty, n - 1) << "cuts land near k/N of the bytes";
    }
  }
}

// .txt files are cut only between files, and counted as the pipeline frames them: three
// paragraphs then two make the second shard start at document 3 (at 8 one a line: an empty
// line inside a .txt is an empty document; at 1 one a file).
TEST(ShardPlan, FirstDocumentCountsTxtDocumentsAsThePipelineFramesThem) {
  Dir d;
  write(d.path / "x.txt", "one\ntwo\n\nthree\n\n\nfour\nfive\n");
  write(d.path / "y.txt", "six\n\nseven\n");
  const auto files =
      io::expand_inputs({(d.path / "x.txt").string(), (d.path / "y.txt").string()}, nullptr);
  auto paragraphs = plan_shards(files, 2, {}, io::TxtDocuments::paragraph);
  ASSERT_EQ(paragraphs.size(), 2u);
  EXPECT_EQ(paragraphs[0].inputs.size(), 1u);
  EXPECT_EQ(paragraphs[0].slice.first_document, std::optional<uint64_t>(0));
  EXPECT_EQ(paragraphs[1].slice.first_document, std::optional<uint64_t>(3));
  auto lines = plan_shards(files, 2, {}, io::TxtDocuments::line);
  EXPECT_EQ(lines[1].slice.first_document, std::optional<uint64_t>(8));  // blank lines too
  auto whole = plan_shards(files, 2, {}, io::TxtDocuments::file);
  EXPECT_EQ(whole[1].slice.first_document, std::optional<uint64_t>(1));
}

TEST(ShardPlan, OutputNamesCarryTheShard) {
  EXPECT_EQ(shard_output("/o/out.jsonl", 3, 64), fs::path("/o/out-00003-of-00064.jsonl"));
  EXPECT_EQ(shard_output("/o/out", 0, 1), fs::path("/o/out-00000-of-00001"));
  nlohmann::json f;
  write_shard_of(f, ShardOf{"p1", 2, 5, "/o/out.jsonl"});
  EXPECT_EQ(shard_of(f), (ShardOf{"p1", 2, 5, "/o/out.jsonl"}));
  f["shard"] = 5;
  EXPECT_EQ(shard_of(f), std::nullopt) << "index past the count";
  EXPECT_EQ(shard_job_id("p1", 7), "p1.s00007");
}

}  // namespace
}  // namespace qkv::jobs
