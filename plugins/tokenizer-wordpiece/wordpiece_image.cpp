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

std::unique_ptr<WordPieceTokenizer> WordPieceTokenizer::from_image(ModelSpec&& spec,
                                                                   std::string_view payload) {
  image::ImageReader in(payload);
  const size_t vocab = spec.vocab.size();
  if (in.get<uint64_t>() != vocab)
    throw image::ImageError("image: built for another vocabulary size");
  CharTable table(spec.normalizer, in);
  DoubleArrayTrie trie = DoubleArrayTrie::load(in, vocab);
  std::vector<int32_t> single_id(0x10000);
  in.get_array(single_id.data(), single_id.size());
  for (int32_t id : single_id)
    if (id < 0 || size_t(id) >= vocab) throw image::ImageError("image: bad one-char word id");
  if (!in.at_end()) throw image::ImageError("image: trailing bytes");
  // A sound spec's own tables hold its unk token (the build checks it before saving).
  if (spec.unk_token.empty() || trie.walk(DoubleArrayTrie::kRoot, spec.unk_token) < 0 ||
      trie.value(trie.walk(DoubleArrayTrie::kRoot, spec.unk_token)) < 0)
    throw image::ImageError("image: the trie lacks the unk token");
  return std::unique_ptr<WordPieceTokenizer>(new WordPieceTokenizer(
      ImageTag{}, std::move(spec), std::move(table), std::move(trie), std::move(single_id)));
}

WordPieceTokenizer::WordPieceTokenizer(ImageTag, ModelSpec&& spec, CharTable table,
                                       DoubleArrayTrie trie, std::vector<int32_t> single_id)
    : spec_(std::move(spec)), table_(std::move(table)), trie_(std::move(trie)) {
  single_id_ = std::move(single_id);
  finish();  // throws only for errors of the spec itself, as the building constructor
}

}  // namespace qkv::wordpiece
