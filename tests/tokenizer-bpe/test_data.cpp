#include "test_data.hpp"

#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace qkv::bpe::test {

std::string source_dir() {
  if (const char* env = std::getenv("QKV_SOURCE_DIR")) return env;
  return QKV_SOURCE_DIR;
}

std::string vocab(const std::string& name) { return source_dir() + "/data/vocab/" + name; }

static std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return std::move(ss).str();
}

std::vector<std::string> corpus(const std::string& stem, size_t max_docs) {
  std::istringstream in(slurp(source_dir() + "/tests/data/corpus/" + stem + ".jsonl"));
  std::vector<std::string> out;
  for (std::string line; out.size() < max_docs && std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
  return out;
}

std::vector<std::vector<int32_t>> golden(const std::string& name, size_t max_lines) {
  const std::string path = source_dir() + "/tests/data/golden/" + name + ".jsonl.gz";
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + path);
  std::string text;
  char buf[1 << 16];
  for (int n; (n = gzread(f, buf, sizeof buf)) > 0;) text.append(buf, size_t(n));
  gzclose(f);
  std::vector<std::vector<int32_t>> out;
  std::istringstream in(text);
  for (std::string line; out.size() < max_lines && std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line).get<std::vector<int32_t>>());
  return out;
}

std::vector<std::string> invalid_utf8_lines() {
  std::string all = slurp(source_dir() + "/tests/data/corpus/invalid_utf8.bin");
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < all.size()) {
    size_t eol = all.find('\n', pos);
    if (eol == std::string::npos) eol = all.size();
    out.push_back(all.substr(pos, eol - pos));
    pos = eol + 1;
  }
  return out;
}

std::string replace_invalid_utf8(const std::string& bytes) {
  // Encoding standard, "UTF-8 decoder": the allowed range of the second byte depends on the
  // lead byte; a byte that does not fit ends the subpart (and is looked at again).
  static const std::string fffd = "\xEF\xBF\xBD";
  std::string out;
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      out.push_back(char(c));
      ++i;
      continue;
    }
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
      need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      out += fffd;
      ++i;
      continue;
    }
    size_t j = i + 1, k = 0;
    for (; k < need && j < n; ++k, ++j) {
      if (s[j] < lo || s[j] > hi) break;
      lo = 0x80, hi = 0xBF;
    }
    if (k == need) {
      out.append(bytes, i, j - i);
    } else {
      out += fffd;
    }
    i = j;
  }
  return out;
}

}  // namespace qkv::bpe::test
