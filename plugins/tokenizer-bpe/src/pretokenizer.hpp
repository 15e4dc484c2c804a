// Hand-written scanners equivalent to the three fixed tiktoken split patterns (no regex engine).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace qkv::bpe {

enum class Pattern {
  kR50k,    // GPT-2 / r50k_base / p50k (also HF ByteLevel's use_regex pattern)
  kCl100k,  // cl100k_base
  kO200k    // o200k_base
};

// Returns the end of the piece that starts at `pos` (< size). Pieces tile the text.
using PieceScanner = size_t (*)(const unsigned char* text, size_t size, size_t pos);
PieceScanner scanner_for(Pattern pattern) noexcept;

// The pattern a regex string stands for (tiktoken's pat_str or an HF Split regex), if known.
std::optional<Pattern> pattern_from_regex(std::string_view regex) noexcept;

}  // namespace qkv::bpe
