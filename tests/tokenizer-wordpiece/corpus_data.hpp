// Reading the shared test data: JSONL corpora, gzipped golden id lists, and the invalid UTF-8
// cases with WHATWG replacement (one U+FFFD per maximal invalid subpart).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::wordpiece::testing {

std::string source_path(const std::string& relative);  // under QKV_SOURCE_DIR

struct Document {
  std::string id;
  std::string text;
};
std::vector<Document> read_corpus(const std::string& name);  // e.g. "en" -> corpus/en.jsonl
// One id list per line of tests/data/golden/<file>.
std::vector<std::vector<int32_t>> read_golden(const std::string& file);

// The lines of invalid_utf8.bin (LF-separated), raw.
std::vector<std::string> read_invalid_lines();
// WHATWG UTF-8 decode with replacement, re-encoded as UTF-8.
std::string whatwg_replace(std::string_view bytes);

}  // namespace qkv::wordpiece::testing
