// The normalizer follows sentencepiece/src/normalizer.cc (v0.1.97) step for step, including its
// offset bookkeeping, so ids and offsets equal SentencePieceProcessor's.
#include "normalizer.hpp"

namespace qkv::sentencepiece {

size_t valid_utf8_length(std::string_view s) {
  const auto b0 = static_cast<uint8_t>(s[0]);
  if (b0 < 0x80) return 1;
  auto trail = [&](size_t i) { return (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80; };
  auto valid_cp = [](uint32_t c) { return c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF); };
  const size_t n = s.size();
  if (n >= 2 && (b0 & 0xE0) == 0xC0) {
    const uint32_t cp = ((b0 & 0x1Fu) << 6) | (static_cast<uint8_t>(s[1]) & 0x3Fu);
    if (trail(1) && cp >= 0x80 && valid_cp(cp)) return 2;
  } else if (n >= 3 && (b0 & 0xF0) == 0xE0) {
    const uint32_t cp = ((b0 & 0x0Fu) << 12) | ((static_cast<uint8_t>(s[1]) & 0x3Fu) << 6) |
                        (static_cast<uint8_t>(s[2]) & 0x3Fu);
    if (trail(1) && trail(2) && cp >= 0x800 && valid_cp(cp)) return 3;
  } else if (n >= 4 && (b0 & 0xF8) == 0xF0) {
    const uint32_t cp = ((b0 & 0x07u) << 18) | ((static_cast<uint8_t>(s[1]) & 0x3Fu) << 12) |
                        ((static_cast<uint8_t>(s[2]) & 0x3Fu) << 6) |
                        (static_cast<uint8_t>(s[3]) & 0x3Fu);
    if (trail(1) && trail(2) && trail(3) && cp >= 0x10000 && valid_cp(cp)) return 4;
  }
  return 0;
}

Normalizer::Normalizer(const ModelSpec& spec, const PieceTrie& user_symbols)
    : charsmap_(spec.precompiled_charsmap),
      user_symbols_(user_symbols),
      add_dummy_prefix_(spec.add_dummy_prefix),
      remove_extra_whitespaces_(spec.remove_extra_whitespaces),
      escape_whitespaces_(spec.escape_whitespaces) {
  for (int b = 0; b < 256; ++b) {
    const auto byte = static_cast<uint8_t>(b);
    special_byte_[b] = b >= 0x80 || (!charsmap_.empty() && charsmap_.starts_rule(byte)) ||
                       (!user_symbols_.empty() &&
                        user_symbols_.step(PieceTrie::root(), byte) != PieceTrie::kNoNode);
  }
}

std::string_view Normalizer::normalize_prefix(std::string_view input, size_t& consumed) const {
  if (!user_symbols_.empty()) {
    int32_t id = 0;
    if (size_t n = user_symbols_.longest_prefix(input, id)) {
      consumed = n;
      return input.substr(0, n);
    }
  }
  if (!charsmap_.empty()) {
    std::string_view replacement;
    if (size_t n = charsmap_.longest_match(input, replacement)) {
      consumed = n;
      return replacement;
    }
  }
  if (size_t n = valid_utf8_length(input)) {
    consumed = n;
    return input.substr(0, n);
  }
  consumed = 1;  // a malformed byte becomes U+FFFD; only that byte is consumed
  return "\xEF\xBF\xBD";
}

void Normalizer::normalize(std::string_view input, std::string& out,
                           std::vector<uint32_t>* norm_to_orig) const {
  out.clear();
  if (norm_to_orig) norm_to_orig->clear();
  uint32_t consumed = 0;
  size_t step = 0;
  if (remove_extra_whitespaces_) {  // heading whitespace (after normalization) is dropped
    while (!input.empty() && normalize_prefix(input, step) == " ") {
      input.remove_prefix(step);
      consumed += static_cast<uint32_t>(step);
    }
  }
  if (input.empty()) {
    if (norm_to_orig) norm_to_orig->push_back(consumed);
    return;
  }
  out.reserve(input.size() * 3 / 2 + 4);
  if (norm_to_orig) norm_to_orig->reserve(input.size() * 3 / 2 + 4);
  auto emit = [&](std::string_view s) {
    for (char c : s) {
      if (escape_whitespaces_ && c == ' ') {
        out.append(kSpaceSymbol);
        if (norm_to_orig) norm_to_orig->insert(norm_to_orig->end(), 3, consumed);
      } else {
        out.push_back(c);
        if (norm_to_orig) norm_to_orig->push_back(consumed);
      }
    }
  };
  if (add_dummy_prefix_) emit(" ");
  bool is_prev_space = remove_extra_whitespaces_;
  while (!input.empty()) {
    const auto b = static_cast<uint8_t>(input[0]);
    std::string_view sp;
    if (!special_byte_[b]) {  // plain ASCII: copied as is (the common case)
      sp = input.substr(0, 1);
      step = 1;
    } else {
      sp = normalize_prefix(input, step);
    }
    if (is_prev_space)
      while (!sp.empty() && sp.front() == ' ') sp.remove_prefix(1);
    if (!sp.empty()) {
      emit(sp);
      is_prev_space = sp.back() == ' ';
    }
    consumed += static_cast<uint32_t>(step);
    input.remove_prefix(step);
    if (!remove_extra_whitespaces_) is_prev_space = false;
  }
  if (remove_extra_whitespaces_) {  // trailing whitespace is dropped
    const std::string_view space = escape_whitespaces_ ? kSpaceSymbol : std::string_view(" ");
    while (out.size() >= space.size() &&
           std::string_view(out).substr(out.size() - space.size()) == space) {
      const size_t length = out.size() - space.size();
      if (norm_to_orig) {
        consumed = (*norm_to_orig)[length];
        norm_to_orig->resize(length);
      }
      out.resize(length);
    }
  }
  if (norm_to_orig) norm_to_orig->push_back(consumed);
}

}  // namespace qkv::sentencepiece
