// Output formats (docs/formats.md), the .npy header byte by byte against the NumPy format
// spec / numpy 1.24's own output, SHA-256 test vectors, atomic files and a full disk.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "io/atomic_file.hpp"
#include "io/formats.hpp"
#include "io/io_error.hpp"
#include "io/npy_header.hpp"
#include "io/output_set.hpp"
#include "io/sha256.hpp"
#include "slurp.hpp"

namespace fs = std::filesystem;
using namespace qkv::io;

namespace {

TEST(Formats, Ids) {
  std::string s;
  const int32_t ids[] = {15496, 995};
  append_ids(s, ids);
  EXPECT_EQ(s, "[15496,995]");
  s.clear();
  append_ids(s, {});
  EXPECT_EQ(s, "[]");
  s.clear();
  const uint32_t offs[] = {0, 5, 5, 11};
  append_ids_offsets(s, ids, offs);
  EXPECT_EQ(s, R"({"ids":[15496,995],"offsets":[[0,5],[5,11]]})");
}

TEST(Formats, JsonStringRoundTripsThroughNlohmann) {
  std::string text = "quote\" back\\ nl\n tab\t cr\r bs\b ff\f nul";
  text += '\0';
  text += "\x01\x1f\x7f caf\xC3\xA9 \xF0\x9F\x98\x80 \xE2\x80\xA8";
  std::string s;
  append_json_string(s, text);
  EXPECT_EQ(nlohmann::json::parse(s).get<std::string>(), text);
  // Same bytes as nlohmann's dump for valid UTF-8 (non-ASCII raw, \u00XX for other controls).
  EXPECT_EQ(s, nlohmann::json(text).dump());
}

TEST(Formats, Base64Rfc4648Vectors) {
  const char* in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; ++i) {
    std::string s;
    append_base64(s, in[i]);
    EXPECT_EQ(s, out[i]);
  }
}

TEST(Formats, TextRecord) {
  std::string s;
  append_text_record(s, "hi \"x\"");
  EXPECT_EQ(s, R"({"text":"hi \"x\""})");
  s.clear();
  append_text_record(s, "\xE2\x82");  // a split character
  EXPECT_EQ(s, R"({"bytes_b64":"4oI="})");
}

TEST(Formats, BinIdsLittleEndian) {
  std::string s;
  const int32_t ids[] = {1, 0x1234, 65535};
  append_bin_ids(s, ids, false);
  EXPECT_EQ(s, std::string("\x01\x00\x34\x12\xff\xff", 6));
  s.clear();
  const int32_t wide[] = {0x01020304, 100276};
  append_bin_ids(s, wide, true);
  EXPECT_EQ(s, std::string("\x04\x03\x02\x01\xb4\x87\x01\x00", 8));
  const int32_t big[] = {65536};
  EXPECT_THROW(append_bin_ids(s, big, false), std::out_of_range);
}

// Spec: magic "\x93NUMPY", major 1, minor 0, uint16 LE header length, an ASCII dict literal
// padded with spaces and ended by '\n' so that the data is 64-byte aligned. numpy 1.24 also
// leaves room for the first axis to grow to 21 digits (checked against numpy's own output).
void expect_npy_header(const std::string& h, const std::string& dict) {
  ASSERT_EQ(h.size(), 128u);
  EXPECT_EQ(h.substr(0, 6), std::string("\x93NUMPY", 6));
  EXPECT_EQ(h[6], '\x01');
  EXPECT_EQ(h[7], '\x00');
  EXPECT_EQ(static_cast<unsigned char>(h[8]) | static_cast<unsigned char>(h[9]) << 8, 118);
  EXPECT_EQ(h.substr(10, dict.size()), dict);
  for (size_t i = 10 + dict.size(); i < 127; ++i) ASSERT_EQ(h[i], ' ') << i;
  EXPECT_EQ(h[127], '\n');
}

TEST(Npy, HeaderMatchesNumpy) {
  const int64_t a[] = {3};
  expect_npy_header(npy_header("<i8", a),
                    "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }");
  const int64_t b[] = {2, 3};
  expect_npy_header(npy_header("<f4", b),
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
  const int64_t c[] = {12345678901, 768};
  expect_npy_header(npy_header("<f4", c),
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (12345678901, 768), }");
  const int64_t d[] = {0};
  EXPECT_EQ(npy_header("<i8", d).size(), npy_header("<i8", a).size());
}

TEST(Sha256, Vectors) {
  auto hex = [](std::string_view s) {
    Sha256 h;
    h.update(s);
    return h.hex();
  };
  EXPECT_EQ(hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 h;
  std::string a(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.update(a);
  EXPECT_EQ(h.hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

class Outputs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("qkv-writers-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    set_write_function_for_testing(nullptr);
    fs::remove_all(dir_);
  }
  size_t files() const {
    return static_cast<size_t>(
        std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }
  fs::path dir_;
};

TEST_F(Outputs, CommitRenamesIntoPlace) {
  fs::path p = dir_ / "out.jsonl";
  {
    AtomicFile f(p);
    f.write("hello\n");
    EXPECT_FALSE(fs::exists(p));
    EXPECT_TRUE(fs::exists(f.temp_path()));
    EXPECT_EQ(f.temp_path().parent_path(), dir_);
    f.commit();
  }
  EXPECT_EQ(slurp(p), "hello\n");
  EXPECT_EQ(files(), 1u);
}

TEST_F(Outputs, DiscardLeavesExistingFileAlone) {
  fs::path p = dir_ / "out.jsonl";
  std::ofstream(p) << "old";
  {
    AtomicFile f(p);
    f.write(std::string(3 << 20, 'x'));  // more than the buffer: really on disk
  }
  EXPECT_EQ(slurp(p), "old");
  EXPECT_EQ(files(), 1u);
}

TEST_F(Outputs, WriteAtRewritesAHeader) {
  fs::path p = dir_ / "a.npy";
  AtomicFile f(p);
  f.write("0000rest");
  f.write_at(0, "HEAD");
  f.commit();
  EXPECT_EQ(slurp(p), "HEADrest");
}

ssize_t disk_full(int, const void*, size_t) {
  errno = ENOSPC;
  return -1;
}

TEST_F(Outputs, FullDiskFailsCleanly) {
  fs::path p = dir_ / "out.bin";
  std::ofstream(p) << "previous";
  try {
    OutputSet set(p);
    auto& f = set.add(p);
    set_write_function_for_testing(disk_full);
    f.write(std::string(2 << 20, 'x'));
    set.commit(nlohmann::json::object());
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("out.bin: write failed: No space left on device"),
              std::string::npos)
        << e.what();
  }
  set_write_function_for_testing(nullptr);
  EXPECT_EQ(slurp(p), "previous");
  EXPECT_EQ(files(), 1u);  // no temporary file left, no manifest
}

TEST_F(Outputs, OutputSetWritesManifestLastWithChecksums) {
  fs::path main = dir_ / "x.bin";
  OutputSet set(main);
  EXPECT_EQ(set.companion(".idx.npy"), dir_ / "x.idx.npy");
  set.add(main).write("abc");
  set.add(set.companion(".idx.npy")).write("");
  auto paths = set.commit({{"documents", 1}});
  ASSERT_EQ(paths.size(), 3u);
  EXPECT_EQ(paths.back(), dir_ / "x.manifest.json");
  auto m = nlohmann::json::parse(slurp(paths.back()));
  EXPECT_EQ(m["documents"], 1);
  ASSERT_EQ(m["outputs"].size(), 2u);
  EXPECT_EQ(m["outputs"][0]["path"], main.string());
  EXPECT_EQ(m["outputs"][0]["bytes"], 3);
  EXPECT_EQ(m["outputs"][0]["sha256"],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(m["outputs"][1]["sha256"],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(files(), 3u);
}

TEST_F(Outputs, MissingFolderIsAnError) {
  EXPECT_THROW(AtomicFile(dir_ / "no/such/dir/x.jsonl"), IoError);
}

}  // namespace
