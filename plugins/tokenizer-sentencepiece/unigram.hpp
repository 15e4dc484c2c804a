// Unigram segmentation: the best-scoring path over the vocabulary (Viterbi), as
// sentencepiece::unigram::Model::EncodeOptimized computes it.
#pragma once

#include <string_view>
#include <vector>

#include "vocabulary.hpp"

namespace qkv::sentencepiece {

// Appends the segments of `normalized` (valid UTF-8) to `out`, left to right.
void unigram_segment(const Vocabulary& vocab, std::string_view normalized, std::vector<Token>& out);

// Byte length of the UTF-8 character led by b (SentencePiece's OneCharLen: by lead byte only).
inline size_t one_char_len(char b) {
  return static_cast<size_t>("\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[static_cast<uint8_t>(b) >> 4]);
}

}  // namespace qkv::sentencepiece
