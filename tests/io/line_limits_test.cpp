// Input limits counted after decompression: a line over max_line_bytes is refused as soon as
// it passes the limit (LineTooLong), and LineStream names the file, line and setting.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zstd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "io/inputs.hpp"
#include "io/io_error.hpp"
#include "io/line_reader.hpp"

namespace fs = std::filesystem;
using namespace qkv::io;

namespace {

struct LineLimits : ::testing::Test {
  fs::path dir = fs::temp_directory_path() / ("qkv-line-limits-" + std::to_string(::getpid()));
  void SetUp() override { fs::create_directories(dir); }
  void TearDown() override { fs::remove_all(dir); }
  fs::path write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return dir / name;
  }
  fs::path zst(const std::string& name, const std::string& bytes) {
    std::string out(ZSTD_compressBound(bytes.size()), '\0');
    out.resize(ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), 3));
    return write(name, out);
  }
  static std::string message_of(LineStream& s) {
    RawLine l;
    try {
      while (s.next(l)) {
      }
    } catch (const IoError& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(LineLimits, ALineAtTheLimitPassesOneByteMoreIsRefused) {
  auto p = write("a.txt", std::string(100, 'x') + "\n" + std::string(101, 'y') + "\nz\n");
  LineReader r(open_source(p), /*buffer_bytes=*/16, /*max_line_bytes=*/100);
  std::string line;
  uint64_t off = 0;
  ASSERT_TRUE(r.next(line, off));
  EXPECT_EQ(line, std::string(100, 'x'));
  try {
    r.next(line, off);
    FAIL() << "a 101-byte line passed a 100-byte limit";
  } catch (const LineTooLong& e) {
    EXPECT_EQ(e.offset, 101u);
    EXPECT_LE(line.size(), 100u + 16u);  // never more than the limit plus one read
  }
}

TEST_F(LineLimits, TheStreamNamesFileLineAndSetting) {
  auto p = zst("b.jsonl.zst", "{}\n" + std::string(50, 'a') + "\n");
  LineStream s({InputFile{p, fs::file_size(p), TextFormat::jsonl}}, {}, StreamLimits{10, 0});
  std::string msg = message_of(s);
  EXPECT_NE(msg.find(p.string() + ": line 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("limits.max_document_bytes (10 bytes)"), std::string::npos) << msg;
}

TEST_F(LineLimits, TheTotalCountsDecompressedBytesAcrossFiles) {
  std::string lines;
  for (int i = 0; i < 1000; ++i) lines += "0123456789\n";  // 11 000 bytes each file
  auto a = zst("a.jsonl.zst", lines), b = zst("b.jsonl.zst", lines);
  ASSERT_LT(fs::file_size(a) + fs::file_size(b), 15000u);  // small on disk
  LineStream s({InputFile{a, fs::file_size(a), TextFormat::jsonl},
                InputFile{b, fs::file_size(b), TextFormat::jsonl}},
               {}, StreamLimits{0, 15000});
  std::string msg = message_of(s);
  EXPECT_NE(msg.find(b.string()), std::string::npos) << msg;  // passed in the second file
  EXPECT_NE(msg.find("limits.max_job_input_bytes (15000 bytes, counted after decompression)"),
            std::string::npos)
      << msg;
  LineStream unlimited({InputFile{a, fs::file_size(a), TextFormat::jsonl}}, {}, StreamLimits{});
  EXPECT_EQ(message_of(unlimited), "");
}

}  // namespace
