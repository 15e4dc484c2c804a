// Helpers for the pipeline tests: temp folders, file reading, an independent .npy parser.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace qkv::test {

namespace fs = std::filesystem;

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void spit(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

inline std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] == '\n') {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  if (start < s.size()) out.push_back(s.substr(start));
  return out;
}

class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() / ("qkv-pipeline-" + std::to_string(::getpid()) + "-" +
                                         info->test_suite_name() + "-" + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  fs::path path_;
};

// A .npy file parsed from the format spec, independently of qkv's writer: returns the dict
// text and the raw data; fails the test on a malformed header.
struct Npy {
  std::string descr;
  std::vector<int64_t> shape;
  std::string data;
  template <class T>
  std::vector<T> values() const {
    std::vector<T> v(data.size() / sizeof(T));
    std::memcpy(v.data(), data.data(), v.size() * sizeof(T));
    return v;
  }
};

inline Npy read_npy_independently(const fs::path& p) {
  const std::string b = slurp(p);
  Npy out;
  EXPECT_GE(b.size(), 10u);
  EXPECT_EQ(b.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t hlen = static_cast<unsigned char>(b[8]) | static_cast<unsigned char>(b[9]) << 8;
  EXPECT_EQ((10 + hlen) % 64, 0u);
  const std::string dict = b.substr(10, hlen);
  EXPECT_EQ(dict.back(), '\n');
  auto field = [&](const std::string& key) {
    size_t at = dict.find("'" + key + "': ");
    EXPECT_NE(at, std::string::npos) << key;
    return dict.substr(at + key.size() + 4);
  };
  std::string d = field("descr");
  out.descr = d.substr(1, d.find('\'', 1) - 1);
  EXPECT_EQ(field("fortran_order").rfind("False", 0), 0u);
  std::string s = field("shape");
  s = s.substr(1, s.find(')') - 1);
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.find_first_not_of(' ') == std::string::npos) continue;
    out.shape.push_back(std::stoll(item));
  }
  out.data = b.substr(10 + hlen);
  return out;
}

}  // namespace qkv::test
