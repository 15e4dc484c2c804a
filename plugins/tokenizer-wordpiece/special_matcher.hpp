// Finds special-token strings in raw text, leftmost-longest (as HF's added-token matcher).
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::wordpiece {

class SpecialMatcher {
 public:
  SpecialMatcher() = default;
  void add(std::string token, int32_t id);
  bool empty() const { return tokens_.empty(); }

  struct Match {
    size_t pos;  // text.size() when none
    size_t len;
    int32_t id;
  };
  // First match at or after `from`.
  Match find(std::string_view text, size_t from) const;

 private:
  struct Token {
    std::string text;
    int32_t id;
  };
  std::vector<Token> tokens_;  // longest first, so the first hit at a position is the longest
  std::bitset<256> first_;
};

}  // namespace qkv::wordpiece
