// libFuzzer target: byte-level BPE encode/decode (plugins/tokenizer-bpe) on the committed
// r50k_base vocabulary. The first byte picks what the rest is:
//   even: text. Encoding (no specials, then all specials) must decode back to exactly the same
//         bytes, each id's offsets must cover exactly its bytes, and max_length (0 = no limit)
//         must keep a prefix of the full encoding.
//   odd:  little-endian int32 ids. Decoding must give the concatenated bytes of the ids when all
//         are known, and throw std::out_of_range when one is not; nothing else.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "bpe.hpp"
#include "factory.hpp"

namespace bpe = qkv::bpe;

namespace {

const bpe::Bpe& tokenizer() {
  static const std::unique_ptr<bpe::Bpe> t = bpe::make_bpe({.encoding = "r50k_base",
                                                            .ranks = QKV_FUZZ_BPE_RANKS,
                                                            .encoder_json = {},
                                                            .vocab_bpe = {},
                                                            .tokenizer_json = {}});
  return *t;
}

void check_text(const bpe::Bpe& t, std::string_view text, uint32_t max_length) {
  for (auto kind : {bpe::SpecialSelection::kNone, bpe::SpecialSelection::kAll}) {
    bpe::SpecialSelection specials{.kind = kind, .names = {}};
    std::vector<int32_t> ids;
    std::vector<uint32_t> offsets;
    t.encode(text, specials, 0, ids, &offsets);
    if (offsets.size() != 2 * ids.size()) __builtin_trap();
    std::string back;
    t.decode(ids, back);
    if (back != text) __builtin_trap();
    for (size_t i = 0; i < ids.size(); ++i) {
      uint32_t begin = offsets[2 * i], end = offsets[2 * i + 1];
      std::string_view bytes;
      if (begin > end || end > text.size() || !t.token_bytes(ids[i], &bytes)) __builtin_trap();
      if (text.substr(begin, end - begin) != bytes) __builtin_trap();
    }
    std::vector<int32_t> cut;
    t.encode(text, specials, max_length, cut, nullptr);
    size_t kept = max_length ? std::min<size_t>(ids.size(), max_length) : ids.size();
    if (cut.size() != kept) __builtin_trap();
    if (!std::equal(cut.begin(), cut.end(), ids.begin())) __builtin_trap();
  }
}

void check_ids(const bpe::Bpe& t, const uint8_t* data, size_t size) {
  std::vector<int32_t> ids(size / 4);
  if (!ids.empty()) std::memcpy(ids.data(), data, ids.size() * 4);
  // Small ids most of the time, so decoding is exercised beyond its first unknown id.
  for (auto& id : ids)
    if ((id & 0x30000000) == 0) id = int32_t(uint32_t(id) % (t.vocab_size() + 8));
  std::string expected;
  bool all_known = true;
  for (int32_t id : ids) {
    std::string_view bytes;
    if (t.token_bytes(id, &bytes))
      expected += bytes;
    else
      all_known = false;
  }
  std::string out;
  try {
    t.decode(ids, out);
  } catch (const std::out_of_range&) {
    if (all_known) __builtin_trap();
    return;
  }
  if (!all_known || out != expected) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bpe::Bpe& t = tokenizer();
  if (data[0] & 1)
    check_ids(t, data + 1, size - 1);
  else
    check_text(t, std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1),
               data[0] >> 1);
  return 0;
}
