#include "pipeline/token_window.hpp"

#include <algorithm>
#include <stdexcept>

namespace qkv::pipeline {

SpecialFrame special_frame(std::span<const int32_t> ids, std::span<const int32_t> empty_text) {
  const size_t n = empty_text.size();
  if (n == 0 || n > ids.size()) return {};
  for (size_t head = n + 1; head-- > 0;) {
    const size_t tail = n - head;
    if (std::equal(empty_text.begin(), empty_text.begin() + long(head), ids.begin()) &&
        std::equal(empty_text.begin() + long(head), empty_text.end(), ids.end() - long(tail)))
      return {head, tail};
  }
  return {};
}

void truncate_tokens(std::vector<int32_t>& ids, std::vector<uint32_t>* offsets, size_t limit,
                     SpecialFrame frame, bool left) {
  const size_t n = ids.size();
  if (limit >= n) return;
  const bool with_offsets = offsets && offsets->size() == 2 * n;
  if (limit <= frame.size() || frame.size() >= n) {
    ids.resize(limit);
    if (with_offsets) offsets->resize(2 * limit);
    return;
  }
  const size_t keep = limit - frame.size();                 // text ids kept
  const size_t text_end = n - frame.tail;                   // one past the last text id
  const size_t from = left ? text_end - keep : frame.head;  // first kept text id
  auto cut = [&](auto& v, size_t width) {
    auto at = [&](size_t i) { return v.begin() + long(i * width); };
    // [head specials][kept text][tail specials]
    std::move(at(from), at(from + keep), at(frame.head));
    std::move(at(text_end), at(n), at(frame.head + keep));
    v.resize(limit * width);
  };
  cut(ids, 1);
  if (with_offsets) cut(*offsets, 2);
}

std::vector<TokenWindow> token_windows(size_t ids, SpecialFrame frame, size_t tokens,
                                       size_t overlap) {
  const size_t text_begin = std::min(frame.head, ids);
  const size_t text_end = std::max(text_begin, ids - std::min(frame.tail, ids));
  if (tokens <= frame.size() || tokens - frame.size() <= overlap)
    throw std::invalid_argument("model.chunk.tokens leaves no room for text after the " +
                                std::to_string(frame.size()) + " special tokens and the overlap");
  const size_t width = tokens - frame.size();
  const size_t step = width - overlap;
  std::vector<TokenWindow> w;
  for (size_t b = text_begin;; b += step) {
    const size_t e = std::min(b + width, text_end);
    w.push_back({b, e});
    if (e == text_end) break;
  }
  return w;
}

}  // namespace qkv::pipeline
