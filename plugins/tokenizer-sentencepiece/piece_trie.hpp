// PieceTrie: a byte trie over vocabulary pieces whose edges live in one open-addressing hash
// table (node, byte) -> child, so a step costs one probe whatever the fan-out.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace qkv::sentencepiece {

class PieceTrie {
 public:
  static constexpr int32_t kNone = -1;
  PieceTrie() {
    for (uint32_t& c : root_children_) c = kNoNode;
  }
  void insert(std::string_view key, int32_t value);
  // Walk: start at root(); step() returns the child or kNoNode.
  static constexpr uint32_t kNoNode = 0xFFFFFFFFu;
  static constexpr uint32_t root() { return 0; }
  uint32_t step(uint32_t node, uint8_t byte) const {
    if (node == 0) return root_children_[byte];  // the first step skips the hash
    // Most walks end at a node without that child: the mask answers without probing.
    if (!((child_masks_[node] >> (byte & 31)) & 1)) return kNoNode;
    const uint32_t key = (node << 8) | byte;
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return s.child;
      if (s.key == kEmpty) return kNoNode;
    }
  }
  int32_t value(uint32_t node) const { return values_[node]; }
  // Longest key that is a prefix of `text`: its length (0: none) and value.
  size_t longest_prefix(std::string_view text, int32_t& value) const;
  bool empty() const { return values_.size() <= 1; }

 private:
  // 8-byte slots keep the table of a 32k-piece vocabulary near L2; hence at most 2^24 nodes.
  static constexpr uint32_t kEmpty = ~0u;
  static constexpr size_t kMaxNodes = (1u << 24) - 1;
  struct Slot {
    uint32_t key = kEmpty;
    uint32_t child = 0;
  };
  static size_t hash(uint32_t k) { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> 32); }
  void grow();
  std::vector<Slot> slots_ = std::vector<Slot>(16);
  size_t mask_ = 15, edges_ = 0;
  std::vector<int32_t> values_ = {kNone};    // per node; node 0 is the root
  std::vector<uint32_t> child_masks_ = {0};  // per node: bit (b & 31) set if a child byte b
  uint32_t root_children_[256];
};

}  // namespace qkv::sentencepiece
