#include "corpus_data.hpp"

#include <zlib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace qkv::wordpiece::testing {

std::string source_path(const std::string& relative) {
  return std::string(QKV_SOURCE_DIR) + "/" + relative;
}

static std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

static std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

std::vector<Document> read_corpus(const std::string& name) {
  const std::string text = slurp(source_path("tests/data/corpus/" + name + ".jsonl"));
  std::vector<Document> docs;
  for (std::string_view line : lines(text)) {
    auto j = nlohmann::json::parse(line);
    docs.push_back({j.at("id").get<std::string>(), j.at("text").get<std::string>()});
  }
  return docs;
}

std::vector<std::vector<int32_t>> read_golden(const std::string& file) {
  const std::string path = source_path("tests/data/golden/" + file);
  gzFile gz = gzopen(path.c_str(), "rb");
  if (!gz) throw std::runtime_error("cannot open " + path);
  std::string text;
  char buf[1 << 16];
  for (int n; (n = gzread(gz, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  gzclose(gz);
  std::vector<std::vector<int32_t>> out;
  for (std::string_view line : lines(text))
    out.push_back(nlohmann::json::parse(line).get<std::vector<int32_t>>());
  return out;
}

std::vector<std::string> read_invalid_lines() {
  const std::string text = slurp(source_path("tests/data/corpus/invalid_utf8.bin"));
  std::vector<std::string> out;
  for (std::string_view line : lines(text)) out.emplace_back(line);
  return out;
}

// The WHATWG decoder: a lead byte fixes the allowed range of the first continuation byte;
// when a byte does not fit, everything consumed so far is one maximal subpart -> one U+FFFD,
// and the offending byte is looked at again as a new start.
std::string whatwg_replace(std::string_view in) {
  static const char kFffd[] = "\xEF\xBF\xBD";
  std::string out;
  size_t i = 0;
  const size_t n = in.size();
  while (i < n) {
    const auto b = static_cast<unsigned char>(in[i]);
    if (b < 0x80) {
      out += static_cast<char>(b);
      ++i;
      continue;
    }
    int need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      out += kFffd;
      ++i;
      continue;
    }
    size_t j = i + 1;
    int got = 0;
    while (got < need && j < n) {
      const auto c = static_cast<unsigned char>(in[j]);
      if (c < lo || c > hi) break;
      lo = 0x80;
      hi = 0xBF;
      ++j;
      ++got;
    }
    if (got == need)
      out.append(in.substr(i, j - i));
    else
      out += kFffd;
    i = j;
  }
  return out;
}

}  // namespace qkv::wordpiece::testing
