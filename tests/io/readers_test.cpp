// Streaming readers: line splitting, .gz and .zst decompression, globs and input order.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include "io/byte_buffer.hpp"
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

// Records of one file as (line, offset, bytes).
struct Record {
  uint64_t line, offset;
  std::string bytes;
  bool operator==(const Record&) const = default;
};
std::vector<Record> records(const fs::path& p, TxtDocuments mode = TxtDocuments::line) {
  LineStream s(expand_inputs({p.string()}, nullptr), {}, {}, mode);
  std::vector<Record> out;
  RawLine l;
  while (s.next(l)) out.push_back({l.line, l.offset, l.bytes});
  return out;
}
void PrintTo(const Record& r, std::ostream* os) {
  *os << "{" << r.line << "," << r.offset << ",\"" << r.bytes << "\"}";
}

TEST_F(Readers, ByteOrderMarkAndCrlfAreFramingOnly) {
  // A BOM starts the file, not the first document; CRLF ends a .txt line.
  EXPECT_EQ(records(plain("b.txt", "\xEF\xBB\xBFone\r\ntwo\r\n")),
            (std::vector<Record>{{0, 3, "one"}, {1, 8, "two"}}));
  EXPECT_EQ(records(plain("b.jsonl", "\xEF\xBB\xBF{\"text\":\"a\\r\"}\r\n")),
            (std::vector<Record>{{0, 3, "{\"text\":\"a\\r\"}\r"}}))
      << "a .jsonl line is handed to the JSON reader whole: \\r is JSON whitespace there";
  // A BOM anywhere else is text.
  EXPECT_EQ(records(plain("m.txt", "a\n\xEF\xBB\xBFz\n")),
            (std::vector<Record>{{0, 0, "a"}, {1, 2, "\xEF\xBB\xBFz"}}));
}

TEST_F(Readers, TrailingBlankLinesAreNotRecords) {
  EXPECT_EQ(records(plain("t.jsonl", "{}\n\n{}\n\n  \n")),
            (std::vector<Record>{{0, 0, "{}"}, {1, 3, ""}, {2, 4, "{}"}}))
      << "a blank line before more text stays a record (the reader reports it)";
  EXPECT_EQ(records(plain("t.txt", "a\r\n\r\nb\r\n\r\n\r\n")),
            (std::vector<Record>{{0, 0, "a"}, {1, 3, ""}, {2, 5, "b"}}));
  EXPECT_TRUE(records(plain("e.txt", "\n\n")).empty());
}

TEST_F(Readers, TxtParagraphAndFileDocuments) {
  const std::string text = "\xEF\xBB\xBFTitle\r\nline two\r\n\r\n\r\nSecond para\n  \nlast\n\n";
  const fs::path p = plain("p.txt", text);
  EXPECT_EQ(
      records(p, TxtDocuments::paragraph),
      (std::vector<Record>{{0, 3, "Title\nline two"}, {4, 24, "Second para"}, {6, 39, "last"}}));
  EXPECT_EQ(records(p, TxtDocuments::file), (std::vector<Record>{{0, 3, text.substr(3)}}));
  // Modes apply to .txt only: a .jsonl stays one record per line.
  EXPECT_EQ(records(plain("j.jsonl", "{}\n{}\n"), TxtDocuments::file).size(), 2u);
}

// A pipe (stdin): ready() says whether next() would return without waiting, which is where a
// stdin job's chunk ends.
TEST_F(Readers, LineReaderOnAPipeIsReadyOnlyWithAWholeLineOrTheEnd) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  LineReader r(open_source("<stdin>", UniqueFd(fds[0])), 64);
  EXPECT_FALSE(r.ready());  // nothing written yet
  ASSERT_EQ(::write(fds[1], "a\nb", 3), 3);
  EXPECT_TRUE(r.ready());
  std::string line;
  uint64_t offset = 0;
  ASSERT_TRUE(r.next(line, offset));
  EXPECT_EQ(line, "a");
  EXPECT_FALSE(r.ready());  // "b" is buffered, but its line has not ended
  ASSERT_EQ(::write(fds[1], "\nc\n", 3), 3);
  EXPECT_TRUE(r.ready());
  ASSERT_TRUE(r.next(line, offset));
  EXPECT_EQ(line, "b");
  EXPECT_EQ(offset, 2u);
  EXPECT_TRUE(r.ready());  // "c\n" is buffered
  ASSERT_TRUE(r.next(line, offset));
  EXPECT_EQ(line, "c");
  EXPECT_FALSE(r.ready());
  ::close(fds[1]);
  EXPECT_TRUE(r.ready());  // the end is there
  EXPECT_FALSE(r.next(line, offset));
  EXPECT_TRUE(r.ready());
}

// "-" is stdin only where allowed (qkvd run); elsewhere (the daemon's jobs) it is a file name.
TEST_F(Readers, DashIsStdinOnlyWhenAllowed) {
  const auto in = expand_inputs({"-"}, nullptr, true);
  ASSERT_EQ(in.size(), 1u);
  EXPECT_TRUE(in[0].stdin_stream);
  EXPECT_EQ(in[0].path, "<stdin>");
  EXPECT_EQ(in[0].format, TextFormat::jsonl);
  TextFormat txt = TextFormat::txt;
  EXPECT_EQ(expand_inputs({"-"}, &txt, true)[0].format, TextFormat::txt);
  try {
    expand_inputs({"-"}, nullptr);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("-: input file not found"), std::string::npos) << e.what();
  }
  plain("a.jsonl", "{}\n");
  try {
    expand_inputs({"-", (dir_ / "a.jsonl").string()}, nullptr, true);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("give no other input"), std::string::npos) << e.what();
  }
}

}  // namespace

// LineReader grows its ByteBuffer when a line does not fit: the bytes already read must survive.
TEST(ByteBuffer, ResizeKeepsTheBytesItHolds) {
  ByteBuffer b(4);
  std::memcpy(b.data(), "abcd", 4);
  b.resize(4096);
  ASSERT_EQ(b.size(), 4096u);
  EXPECT_EQ(std::string(b.data(), 4), "abcd");
  b.resize(2);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(std::string(b.data(), 2), "ab");
}
