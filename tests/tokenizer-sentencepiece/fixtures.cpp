// Golden readers for the SentencePiece tests (the corpora come from the wordpiece test library).
#include "fixtures.hpp"

#include <zlib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "corpus_data.hpp"

namespace qkv::sentencepiece::testing {

std::string model_path(const std::string& model, const std::string& file) {
  return wordpiece::testing::source_path("data/vocab/sentencepiece/" + model + "/" + file);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> golden_lines(const std::string& file) {
  const std::string path = wordpiece::testing::source_path("tests/data/golden/" + file);
  gzFile gz = gzopen(path.c_str(), "rb");
  if (!gz) throw std::runtime_error("cannot open " + path);
  std::string text;
  char buf[1 << 16];
  for (int n; (n = gzread(gz, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  gzclose(gz);
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<int32_t> parse_ids(const std::string& json_line) {
  return nlohmann::json::parse(json_line).get<std::vector<int32_t>>();
}

}  // namespace qkv::sentencepiece::testing
