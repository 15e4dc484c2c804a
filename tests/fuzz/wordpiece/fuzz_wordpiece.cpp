// libFuzzer target: WordPiece encode/decode (plugins/tokenizer-wordpiece) on the committed
// bert-base-uncased vocab.txt. The first byte picks what the rest is:
//   even: text (any bytes: invalid UTF-8 counts as U+FFFD). Every id must be in the vocabulary,
//         offsets must lie inside the text, max_length must be kept, and decoding the ids must
//         succeed and give valid UTF-8.
//   odd:  little-endian int32 ids. Decoding must throw std::out_of_range exactly when an id is
//         outside the vocabulary, and otherwise give valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "wordpiece_model.hpp"
#include "wordpiece_tokenizer.hpp"

namespace wp = qkv::wordpiece;

namespace {

const wp::WordPieceTokenizer& tokenizer() {
  static const wp::WordPieceTokenizer t(wp::load_vocab_txt(QKV_FUZZ_WORDPIECE_VOCAB));
  return t;
}

// Well-formed UTF-8 (RFC 3629: no overlongs, surrogates or code points past U+10FFFF).
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      unsigned char d = s[i + k];
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr uint32_t min_for[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

void check_text(const wp::WordPieceTokenizer& t, std::string_view text, uint8_t knobs) {
  wp::EncodeParams params;
  params.add_special = knobs & 1;
  params.offsets = true;
  params.max_length = (knobs >> 1) & 1 ? 2 + (knobs >> 2) : 0;
  params.specials = (knobs >> 2) & 1 ? wp::SpecialPolicy::kNone : wp::SpecialPolicy::kDefault;
  wp::Encoding enc;
  t.encode(text, params, enc);
  if (params.max_length && enc.ids.size() > params.max_length) __builtin_trap();
  if (enc.offsets.size() != 2 * enc.ids.size()) __builtin_trap();
  for (size_t i = 0; i < enc.ids.size(); ++i) {
    if (enc.ids[i] < 0 || size_t(enc.ids[i]) >= t.vocab_size()) __builtin_trap();
    if (enc.offsets[2 * i] > enc.offsets[2 * i + 1] || enc.offsets[2 * i + 1] > text.size())
      __builtin_trap();
  }
  std::string out;
  t.decode(enc.ids, out);
  if (!valid_utf8(out)) __builtin_trap();
}

void check_ids(const wp::WordPieceTokenizer& t, const uint8_t* data, size_t size) {
  std::vector<int32_t> ids(size / 4);
  if (!ids.empty()) std::memcpy(ids.data(), data, ids.size() * 4);
  // Small ids most of the time, so decoding is exercised beyond its first unknown id.
  for (auto& id : ids)
    if ((id & 0x30000000) == 0) id = int32_t(uint32_t(id) % (t.vocab_size() + 8));
  bool all_known = true;
  for (int32_t id : ids) all_known = all_known && id >= 0 && size_t(id) < t.vocab_size();
  std::string out;
  try {
    t.decode(ids, out);
  } catch (const std::out_of_range&) {
    if (all_known) __builtin_trap();
    return;
  }
  if (!all_known || !valid_utf8(out)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const wp::WordPieceTokenizer& t = tokenizer();
  if (data[0] & 1)
    check_ids(t, data + 1, size - 1);
  else
    check_text(t, std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1),
               data[0] >> 1);
  return 0;
}
