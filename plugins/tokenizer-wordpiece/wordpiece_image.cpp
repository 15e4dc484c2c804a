// A WordPieceTokenizer's built tables as bytes: what a vocabulary image stores so a load skips
// building the double-array trie and the character table (most of BERT's start-up). Native
// little-endian layout, 8-byte padded sections, in this order:
//   vocab size, character table (pool size, 65536 entries, pool), trie (cells, cells' base and
//   check, values), the one-char word id of every BMP code point.
// The spec (vocabulary strings, specials, flags) is not stored: it is parsed from the
// vocabulary and is what the image's key is computed from (wordpiece_image_file.cpp). The
// container (key, checksum, version) is plugins/common/vocab_image's.
#include <stdexcept>

#include "wordpiece_tokenizer.hpp"

namespace qkv::wordpiece {

std::string WordPieceTokenizer::image() const {
  image::ImageWriter out;
  const uint64_t vocab = spec_.vocab.size();
  out.put(vocab);
  table_.save(out);
  trie_.save(out);
  out.put_array(single_id_.data(), single_id_.size());
  return out.take();
}

std::unique_ptr<WordPieceTokenizer> WordPieceTokenizer::from_image(ModelSpec spec,
                                                                   std::string_view payload) {
  image::ImageReader in(payload);
  if (in.get<uint64_t>() != spec.vocab.size())
    throw image::ImageError("image: built for another vocabulary size");
  return std::unique_ptr<WordPieceTokenizer>(
      new WordPieceTokenizer(ImageTag{}, std::move(spec), in));
}

WordPieceTokenizer::WordPieceTokenizer(ImageTag, ModelSpec spec, image::ImageReader& in)
    : spec_(std::move(spec)), table_(spec_.normalizer, in) {
  const size_t vocab = spec_.vocab.size();
  trie_ = DoubleArrayTrie::load(in, vocab);
  single_id_.resize(0x10000);
  in.get_array(single_id_.data(), single_id_.size());
  for (int32_t id : single_id_)
    if (id < 0 || size_t(id) >= vocab) throw image::ImageError("image: bad one-char word id");
  if (!in.at_end()) throw image::ImageError("image: trailing bytes");
  try {
    finish();
  } catch (const std::runtime_error& e) {
    // A sound spec never fails here with its own tables (the build would have thrown before
    // the image was saved): these tables are wrong. Rebuilding reports the spec's own errors.
    throw image::ImageError(std::string("image: ") + e.what());
  }
}

}  // namespace qkv::wordpiece
