// libFuzzer target: vocabulary images (plugins/tokenizer-bpe/src/bpe_image.cpp) are untrusted
// bytes. The input is a list of patches to a sound image payload of a small vocabulary: 5 bytes
// each (little-endian offset, modulo the payload size, and the byte written there); an odd
// final byte also truncates the payload to that fraction. Bpe::from_image must either throw
// ImageError or give an instance whose encode/decode stay in bounds (ASan, UBSan) and give
// ids below its vocabulary size, offsets within the text. The checksum is the container's: patches
// bypass it here.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bpe.hpp"
#include "vocab_image/image_bytes.hpp"

namespace bpe = qkv::bpe;

namespace {

// 256 byte tokens, a few merged ones (tiktoken semantics: rank = id) and a special.
const std::string& payload() {
  static const std::string p = [] {
    bpe::BpeSpec spec;
    for (int b = 0; b < 256; ++b) spec.tokens.push_back({std::string(1, char(b)), uint32_t(b)});
    uint32_t id = 256;
    for (const char* t : {"th", "he", "the", "in", "an", "and", " t", " the", "er", "ing"})
      spec.tokens.push_back({t, id++});
    spec.specials.push_back({"<|endoftext|>", id++});
    return bpe::Bpe(std::move(spec)).image();
  }();
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string image = payload();
  size_t i = 0;
  for (; i + 5 <= size; i += 5) {
    uint32_t at;
    std::memcpy(&at, data + i, 4);
    image[at % image.size()] = char(data[i + 4]);
  }
  if (i < size && (data[i] & 1)) image.resize(image.size() * data[i] / 256);
  std::unique_ptr<bpe::Bpe> t;
  try {
    t = bpe::Bpe::from_image(image);
  } catch (const bpe::ImageError&) {
    return 0;
  }
  const std::string text = "the band and the thing <|endoftext|> Ünïcödé\t 1234";
  std::vector<int32_t> ids;
  std::vector<uint32_t> offsets;
  t->encode(text, {.kind = bpe::SpecialSelection::kAll, .names = {}}, 0, ids, &offsets);
  // Twice: the second pass replays the per-thread piece cache, whose offsets come from token
  // lengths; they must stay within the text.
  t->encode(text, {.kind = bpe::SpecialSelection::kAll, .names = {}}, 0, ids, &offsets);
  for (int32_t id : ids)
    if (id < 0 || uint32_t(id) >= t->vocab_size()) __builtin_trap();
  for (size_t i = 0; i + 1 < offsets.size(); i += 2)
    if (offsets[i] > offsets[i + 1] || offsets[i + 1] > text.size()) __builtin_trap();
  std::string out;
  try {
    t->decode(ids, out);
  } catch (const std::out_of_range&) {
  }
  int32_t probe = t->token_to_id("the");
  (void)probe;
  return 0;
}
