// Reading the shared corpus and goldens for the BPE tests (tests/data, see its README).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace qkv::bpe::test {

std::string source_dir();                    // QKV_SOURCE_DIR
std::string vocab(const std::string& name);  // data/vocab/<name>
// Texts of tests/data/corpus/<stem>.jsonl (the first max_docs).
std::vector<std::string> corpus(const std::string& stem, size_t max_docs = SIZE_MAX);
// One id array per line of tests/data/golden/<name>.jsonl.gz.
std::vector<std::vector<int32_t>> golden(const std::string& name, size_t max_lines = SIZE_MAX);
// Lines of tests/data/corpus/invalid_utf8.bin (LF-separated raw bytes).
std::vector<std::string> invalid_utf8_lines();
// WHATWG UTF-8 decode with replacement: each maximal invalid subpart becomes U+FFFD.
std::string replace_invalid_utf8(const std::string& bytes);

}  // namespace qkv::bpe::test
