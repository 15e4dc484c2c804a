// Cutting a tokenized document to fewer tokens the way HF tokenizers do: the specials the
// tokenizer put around the text ([CLS] ... [SEP], <s> ... </s>) stay at both ends and only the
// text's tokens are dropped, from the right (keeps the start) or the left (keeps the end).
// Also the windows of model.chunk: each window is framed by the same specials.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace qkv::pipeline {

// How many of a document's ids are the tokenizer's specials at its start and end.
struct SpecialFrame {
  size_t head = 0;
  size_t tail = 0;
  size_t size() const { return head + tail; }
};

// The frame of `ids` given what the tokenizer makes of the empty text (only its specials):
// the largest head such that the empty text's ids are ids' first `head` plus last `tail`.
SpecialFrame special_frame(std::span<const int32_t> ids, std::span<const int32_t> empty_text);

// Keeps `limit` ids (limit < ids.size()): the frame plus the first (or, `left`, the last) of
// the text's ids; offsets (2 per id, may be null or empty) follow. A limit that leaves no room
// for the text keeps the first `limit` ids.
void truncate_tokens(std::vector<int32_t>& ids, std::vector<uint32_t>* offsets, size_t limit,
                     SpecialFrame frame, bool left);

// model.chunk: windows of at most `tokens` ids each (frame included) whose text parts start
// every tokens - frame - overlap text ids; the last one ends with the text. [begin, end) are
// ranges of text ids (indices into ids). A document whose text fits has one window.
struct TokenWindow {
  size_t begin = 0, end = 0;
};
std::vector<TokenWindow> token_windows(size_t ids, SpecialFrame frame, size_t tokens,
                                       size_t overlap);

}  // namespace qkv::pipeline
