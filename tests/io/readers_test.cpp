// Streaming readers: line splitting, .gz and .zst decompression, globs and input order.
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/inputs.hpp"
#include "io/io_error.hpp"
#include "io/line_reader.hpp"

namespace fs = std::filesystem;
using namespace qkv::io;

namespace {

class Readers : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("qkv-readers-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path plain(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / name, std::ios::binary) << bytes;
    return dir_ / name;
  }
  fs::path gz(const std::string& name, const std::string& bytes) {
    gzFile f = gzopen((dir_ / name).c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
    return dir_ / name;
  }
  fs::path zst(const std::string& name, const std::string& bytes) {
    std::string out(ZSTD_compressBound(bytes.size()), '\0');
    size_t n = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), 3);
    out.resize(n);
    return plain(name, out);
  }
  static std::vector<std::pair<std::string, uint64_t>> lines(const fs::path& p,
                                                             size_t buffer = 1 << 20) {
    LineReader r(open_source(p), buffer);
    std::vector<std::pair<std::string, uint64_t>> out;
    std::string line;
    uint64_t off;
    while (r.next(line, off)) out.emplace_back(line, off);
    return out;
  }
  fs::path dir_;
};

TEST_F(Readers, LinesAndOffsets) {
  using V = std::vector<std::pair<std::string, uint64_t>>;
  EXPECT_EQ(lines(plain("a.txt", "ab\n\ncd\r\nlast")),
            (V{{"ab", 0}, {"", 3}, {"cd\r", 4}, {"last", 8}}));
  EXPECT_EQ(lines(plain("b.txt", "x\n")), (V{{"x", 0}}));
  EXPECT_EQ(lines(plain("c.txt", "")), V{});
  EXPECT_EQ(lines(plain("d.txt", "\n")), (V{{"", 0}}));
}

TEST_F(Readers, LinesLongerThanTheBuffer) {
  std::string big(10000, 'q');
  auto got = lines(plain("big.txt", big + "\nz\n" + big), 64);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].first, big);
  EXPECT_EQ(got[1], (std::pair<std::string, uint64_t>{"z", 10001}));
  EXPECT_EQ(got[2].second, 10003u);
}

TEST_F(Readers, GzipAndZstdGiveTheSameLines) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "{\"text\":\"line " + std::to_string(i) + "\"}\n";
  auto want = lines(plain("p.jsonl", text));
  EXPECT_EQ(lines(gz("p.jsonl.gz", text)), want);
  EXPECT_EQ(lines(zst("p.jsonl.zst", text)), want);
  EXPECT_EQ(want.size(), 5000u);
}

TEST_F(Readers, CorruptCompressedInputIsAnError) {
  std::string text(100000, 'a');
  fs::path z = zst("t.txt.zst", text);
  fs::resize_file(z, fs::file_size(z) / 2);
  EXPECT_THROW(lines(z), IoError);
  fs::path g = plain("t.txt.gz", "\x1f\x8b\x08\x00garbage-garbage-garbage");
  EXPECT_THROW(lines(g), IoError);
}

// gzopen passes bytes without the gzip magic through as they are: a mislabelled file would be
// read as text (and its bytes reach reports). Each is an error naming the file.
TEST_F(Readers, ACompressedNameWithoutItsMagicIsAnErrorNamingTheFile) {
  for (const char* name : {"plain.jsonl.gz", "plain.jsonl.zst", "empty.txt.gz", "short.txt.zst"}) {
    std::string body = std::string(name).rfind("plain", 0) == 0   ? "{\"text\":\"\xff\"}\n"
                       : std::string(name).rfind("short", 0) == 0 ? "\x28\xb5"
                                                                  : "";
    fs::path p = plain(name, body);
    try {
      lines(p);
      ADD_FAILURE() << name << " was read";
    } catch (const IoError& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::string(name).find(".gz") != std::string::npos ? "not gzip data"
                                                                            : "not zstd data"),
                std::string::npos)
          << msg;
    }
  }
}

TEST_F(Readers, GlobsAreSortedThenArgumentOrder) {
  plain("b.jsonl", "{}\n");
  plain("a.jsonl", "{}\n");
  plain("z.txt", "x\n");
  auto in = expand_inputs({(dir_ / "z.txt").string(), (dir_ / "*.jsonl").string()}, nullptr);
  ASSERT_EQ(in.size(), 3u);
  EXPECT_EQ(in[0].path.filename(), "z.txt");
  EXPECT_EQ(in[0].format, TextFormat::txt);
  EXPECT_EQ(in[1].path.filename(), "a.jsonl");
  EXPECT_EQ(in[2].path.filename(), "b.jsonl");
  EXPECT_EQ(in[2].format, TextFormat::jsonl);
  EXPECT_EQ(in[1].size, 3u);
}

TEST_F(Readers, InputErrors) {
  plain("x.csv", "a\n");
  EXPECT_THROW(expand_inputs({(dir_ / "missing.jsonl").string()}, nullptr), IoError);
  EXPECT_THROW(expand_inputs({(dir_ / "*.nothing").string()}, nullptr), IoError);
  try {
    expand_inputs({(dir_ / "x.csv").string()}, nullptr);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("set input.format"), std::string::npos) << e.what();
  }
  TextFormat txt = TextFormat::txt;
  EXPECT_EQ(expand_inputs({(dir_ / "x.csv").string()}, &txt)[0].format, TextFormat::txt);
  gz("y.txt.gz", "a\n");
  EXPECT_EQ(expand_inputs({(dir_ / "y.txt.gz").string()}, nullptr)[0].format, TextFormat::txt);
}

TEST_F(Readers, LineStreamCrossesFiles) {
  plain("1.txt", "a\nb");
  gz("2.txt.gz", "c\n");
  LineStream s(expand_inputs({(dir_ / "1.txt").string(), (dir_ / "2.txt.gz").string()}, nullptr));
  RawLine l;
  std::vector<std::string> got;
  std::vector<uint32_t> files;
  while (s.next(l)) {
    got.push_back(l.bytes);
    files.push_back(l.file);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(files, (std::vector<uint32_t>{0, 0, 1}));
}

}  // namespace
