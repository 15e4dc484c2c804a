// PieceTrie construction; lookups are inline in the header (they are the encoder's hot loop).
#include "piece_trie.hpp"

#include <stdexcept>

namespace qkv::sentencepiece {

void PieceTrie::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.size() * 2, Slot{});
  mask_ = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.key == kEmpty) continue;
    size_t i = hash(s.key) & mask_;
    while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void PieceTrie::insert(std::string_view key, int32_t value) {
  if (values_.size() + key.size() > kMaxNodes)
    throw std::runtime_error("vocabulary too large for PieceTrie (2^24 trie nodes)");
  uint32_t node = root();
  for (char ch : key) {
    const auto b = static_cast<uint8_t>(ch);
    uint32_t next = step(node, b);
    if (next == kNoNode && node == root()) {
      next = static_cast<uint32_t>(values_.size());
      values_.push_back(kNone);
      child_masks_.push_back(0);
      root_children_[b] = next;
    } else if (next == kNoNode) {
      if ((edges_ + 1) * 2 > slots_.size()) grow();  // load factor <= 1/2
      next = static_cast<uint32_t>(values_.size());
      values_.push_back(kNone);
      child_masks_.push_back(0);
      child_masks_[node] |= 1u << (b & 31);
      const uint32_t k = (node << 8) | b;
      size_t i = hash(k) & mask_;
      while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
      slots_[i] = Slot{k, next};
      ++edges_;
    }
    node = next;
  }
  values_[node] = value;
}

size_t PieceTrie::longest_prefix(std::string_view text, int32_t& value) const {
  uint32_t node = root();
  size_t best = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    node = step(node, static_cast<uint8_t>(text[i]));
    if (node == kNoNode) break;
    if (values_[node] != kNone) {
      best = i + 1;
      value = values_[node];
    }
  }
  return best;
}

}  // namespace qkv::sentencepiece
