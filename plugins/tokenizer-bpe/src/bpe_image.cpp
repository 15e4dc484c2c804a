// A Bpe's built tables as bytes: what a vocabulary image stores so a load skips parsing the
// vocabulary and building the hash tables (for o200k most of qkvd run's start-up). Native
// little-endian layout, 8-byte padded sections, in this order:
//   header words (vocab size, arena bytes, pattern, flags, max rank, counts), byte ids,
//   byte-pair merges, arena, offsets, known flags, specials (id, length, lstrip, bytes), wrap ids,
//   TokenMap, PairTable.
// The container (key, checksum, version) is image_file.cpp's.
#include <algorithm>

#include "bpe.hpp"

namespace qkv::bpe {
namespace {

struct Header {
  uint32_t vocab, arena, pattern, flags, max_rank, specials, prefix, suffix;
};
constexpr uint32_t kPrefixSpace = 1, kSpecialsByDefault = 2, kTrimOffsets = 4;

}  // namespace

std::string Bpe::image() const {
  ImageWriter out;
  Pattern pattern = Pattern::kR50k;
  for (Pattern p : {Pattern::kR50k, Pattern::kCl100k, Pattern::kO200k})
    if (scanner_for(p) == scan_) pattern = p;
  const Header h{vocab_size(),
                 uint32_t(arena_.size()),
                 uint32_t(pattern),
                 (add_prefix_space_ ? kPrefixSpace : 0) |
                     (match_specials_by_default_ ? kSpecialsByDefault : 0) |
                     (wrap_.trim_offsets ? kTrimOffsets : 0),
                 max_rank_,
                 uint32_t(specials_.size()),
                 uint32_t(wrap_.prefix.size()),
                 uint32_t(wrap_.suffix.size())};
  out.put_array(&h, 1);
  out.put_array(byte_id_, 256);
  out.put_array(byte_pair_, 256 * 256);
  out.put_array(arena_.data(), arena_.size());
  out.put_array(offset_.data(), offset_.size());
  out.put_array(known_.data(), known_.size());
  for (const auto& s : specials_) {
    const uint32_t w[3] = {s.id, uint32_t(s.bytes.size()), s.lstrip ? 1u : 0u};
    out.put_array(w, 3);
    out.put_array(s.bytes.data(), s.bytes.size());
  }
  out.put_array(wrap_.prefix.data(), wrap_.prefix.size());
  out.put_array(wrap_.suffix.data(), wrap_.suffix.size());
  map_.save(out);
  pairs_.save(out);
  return out.take();
}

std::unique_ptr<Bpe> Bpe::from_image(std::string_view payload) {
  return std::unique_ptr<Bpe>(new Bpe(ImageTag{}, payload));
}

Bpe::Bpe(ImageTag, std::string_view payload) : serial_(next_serial()) {
  ImageReader in(payload);
  Header h;
  in.get_array(&h, 1);
  // Ids must fit the pair table's 21-bit fields and hold the 256 byte tokens.
  if (h.vocab < 256 || h.vocab > PairTable::kMaxId + 1 || h.pattern > uint32_t(Pattern::kO200k) ||
      h.flags > 7 || h.max_rank > PairTable::kMaxRank)
    throw ImageError("image: bad header");
  const size_t vocab = h.vocab;
  scan_ = scanner_for(Pattern(h.pattern));
  add_prefix_space_ = h.flags & kPrefixSpace;
  match_specials_by_default_ = h.flags & kSpecialsByDefault;
  wrap_.trim_offsets = h.flags & kTrimOffsets;
  max_rank_ = h.max_rank;

  in.get_array(byte_id_, 256);
  in.get_array(byte_pair_, 256 * 256);
  arena_ = in.get_bytes(h.arena);
  offset_.resize(vocab + 1);
  in.get_array(offset_.data(), offset_.size());
  if (offset_[0] != 0 || offset_[vocab] != arena_.size() ||
      !std::is_sorted(offset_.begin(), offset_.end()))
    throw ImageError("image: bad token offsets");
  known_.resize(vocab);
  in.get_array(known_.data(), known_.size());
  if (std::any_of(known_.begin(), known_.end(), [](uint8_t k) { return k > 1; }))
    throw ImageError("image: bad token flags");
  for (int b = 0; b < 256; ++b) {
    const uint32_t id = byte_id_[b];
    if (id >= vocab || offset_[id + 1] - offset_[id] != 1 ||
        static_cast<unsigned char>(arena_[offset_[id]]) != b)
      throw ImageError("image: bad byte token");
  }
  for (const auto& m : byte_pair_)
    if (m.rank != PairTable::kNoRank && (m.rank > max_rank_ || m.id >= vocab))
      throw ImageError("image: bad byte-pair merge");

  if (h.specials > vocab) throw ImageError("image: too many specials");
  for (uint32_t i = 0; i < h.specials; ++i) {
    uint32_t w[3];
    in.get_array(w, 3);
    if (w[0] >= vocab || w[1] == 0 || w[2] > 1) throw ImageError("image: bad special token");
    specials_.push_back({std::string(in.get_bytes(w[1])), w[0], w[2] == 1});
    // encode() takes the first match as the longest.
    if (i && specials_[i - 1].bytes.size() < specials_[i].bytes.size())
      throw ImageError("image: specials out of order");
    special_first_[static_cast<unsigned char>(specials_[i].bytes[0])] = true;
  }
  if (h.prefix > vocab || h.suffix > vocab) throw ImageError("image: bad special wrap");
  wrap_.prefix.resize(h.prefix);
  in.get_array(wrap_.prefix.data(), wrap_.prefix.size());
  wrap_.suffix.resize(h.suffix);
  in.get_array(wrap_.suffix.data(), wrap_.suffix.size());

  map_.load(in, vocab, arena_.data(), offset_.data());
  pairs_.load(in, vocab, offset_.data());
  // merge_small takes a byte pair's merged id from its rank: two bytes long, as the parts.
  for (const auto& m : byte_pair_)
    if (m.rank != PairTable::kNoRank &&
        (pairs_.result(m.rank) != m.id || offset_[m.id + 1] - offset_[m.id] != 2))
      throw ImageError("image: bad byte-pair merge");
  if (pairs_.max_rank() != max_rank_) throw ImageError("image: pair table rank mismatch");
  if (!in.at_end()) throw ImageError("image: trailing bytes");
}

}  // namespace qkv::bpe
