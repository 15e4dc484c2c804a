#include "special_matcher.hpp"

#include <algorithm>
#include <cstring>

namespace qkv::wordpiece {

void SpecialMatcher::add(std::string token, int32_t id) {
  if (token.empty()) return;
  for (const auto& t : tokens_)
    if (t.text == token) return;
  first_.set(static_cast<uint8_t>(token[0]));
  tokens_.push_back({std::move(token), id});
  std::stable_sort(tokens_.begin(), tokens_.end(),
                   [](const Token& a, const Token& b) { return a.text.size() > b.text.size(); });
}

SpecialMatcher::Match SpecialMatcher::find(std::string_view text, size_t from) const {
  if (tokens_.empty()) return {text.size(), 0, -1};
  // One distinct first byte (BERT: '['): memchr does the scanning.
  const bool single = first_.count() == 1;
  const char lead = tokens_[0].text[0];
  for (size_t i = from; i < text.size();) {
    if (single) {
      const void* hit = std::memchr(text.data() + i, lead, text.size() - i);
      if (!hit) break;
      i = static_cast<size_t>(static_cast<const char*>(hit) - text.data());
    } else if (!first_.test(static_cast<uint8_t>(text[i]))) {
      ++i;
      continue;
    }
    for (const auto& t : tokens_)
      if (text.size() - i >= t.text.size() &&
          std::memcmp(text.data() + i, t.text.data(), t.text.size()) == 0)
        return {i, t.text.size(), t.id};
    ++i;
  }
  return {text.size(), 0, -1};
}

}  // namespace qkv::wordpiece
