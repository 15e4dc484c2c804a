// libFuzzer target: vocabulary images (plugins/tokenizer-wordpiece/wordpiece_image.cpp) are
// untrusted bytes. The input is a list of patches to a sound image payload of a small
// vocabulary: 5 bytes each (little-endian offset, modulo the payload size, and the byte written
// there); an odd final byte also truncates the payload to that fraction. The first patch's
// offset is taken modulo the trie and one-char id sections' size and added to their start (the
// character table fills most of the payload, so uniform offsets would seldom reach them).
// WordPieceTokenizer::from_image must either throw ImageError or give an instance whose
// encode/decode stay in bounds (ASan, UBSan), with ids below its vocabulary size and offsets
// within the text. The checksum is the container's: patches bypass it here.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "vocab_image/image_bytes.hpp"
#include "wordpiece_tokenizer.hpp"

namespace wp = qkv::wordpiece;

namespace {

wp::ModelSpec spec() {
  wp::ModelSpec s;
  s.vocab = {"[PAD]", "[UNK]", "[CLS]",  "[SEP]", "[MASK]", "the", "##ing", "band",
             "##s",   "th",    "##e",    ",",     "!",      "a",   "##a",   "中",
             "文",    "un",    "##able", "naive", "1234",   "##4"};
  for (const char* name : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"})
    for (size_t i = 0; i < s.vocab.size(); ++i)
      if (s.vocab[i] == name) s.added.push_back({name, int32_t(i), true});
  s.cls_id = 2;
  s.sep_id = 3;
  return s;
}

const std::string& payload() {
  static const std::string p = wp::WordPieceTokenizer(spec()).image();
  return p;
}

// Where the trie starts: after the vocab size, the pool size, 65536 entries and the pool.
size_t trie_start() {
  uint64_t pool;
  std::memcpy(&pool, payload().data() + 8, 8);
  return 16 + 8 * 0x10000 + (pool + 7) / 8 * 8;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const wp::ModelSpec s = spec();
  static const size_t tail = trie_start();
  std::string image = payload();
  size_t i = 0;
  for (; i + 5 <= size; i += 5) {
    uint32_t at;
    std::memcpy(&at, data + i, 4);
    const size_t to = i == 0 ? tail + at % (image.size() - tail) : at % image.size();
    image[to] = char(data[i + 4]);
  }
  if (i < size && (data[i] & 1)) image.resize(image.size() * data[i] / 256);
  std::unique_ptr<wp::WordPieceTokenizer> t;
  try {
    t = wp::WordPieceTokenizer::from_image(wp::ModelSpec(s), image);
  } catch (const qkv::image::ImageError&) {
    return 0;
  }
  const std::string text = "The bands unable, naive! 中文 [MASK] thing 12344 Ünïcödé\t x";
  wp::EncodeParams p;
  p.add_special = true;
  p.offsets = true;
  wp::Encoding enc;
  t->encode(text, p, enc);
  for (int32_t id : enc.ids)
    if (id < 0 || size_t(id) >= t->vocab_size()) __builtin_trap();
  for (uint32_t o : enc.offsets)
    if (o > text.size()) __builtin_trap();
  std::string out;
  try {
    t->decode(enc.ids, out);
  } catch (const std::out_of_range&) {
  }
  (void)t->token_to_id("the");
  return 0;
}
