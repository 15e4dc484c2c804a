// The SentencePiece fixtures made by make_fixtures.py / hf_goldens.mjs: model names, model
// paths, and the gzip JSONL goldens whose lines may be null.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qkv::sentencepiece::testing {

inline const char* const kModels[] = {"unigram-8k", "unigram-1k-identity", "unigram-2k-bytes",
                                      "bpe-6k-llama", "bpe-1k"};
inline const char* const kCorpora[] = {"en", "ru", "zh", "ja", "code", "mixed_edge"};

std::string model_path(const std::string& model, const std::string& file);  // absolute
std::string read_file(const std::string& path);
// One JSON value per line of tests/data/golden/<file>, as text ("null" for null).
std::vector<std::string> golden_lines(const std::string& file);
std::vector<int32_t> parse_ids(const std::string& json_line);

}  // namespace qkv::sentencepiece::testing
