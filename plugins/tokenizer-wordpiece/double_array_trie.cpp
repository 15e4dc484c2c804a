#include "double_array_trie.hpp"

#include <algorithm>
#include <deque>

namespace qkv::wordpiece {

namespace {
// A plain pointer-free trie used only while building.
struct BuildNode {
  std::vector<std::pair<uint8_t, int32_t>> kids;  // sorted by byte
  int32_t value = -1;
};
}  // namespace

DoubleArrayTrie::DoubleArrayTrie(const std::vector<std::pair<std::string, int32_t>>& keys) {
  std::vector<BuildNode> nodes(1);
  for (const auto& [key, value] : keys) {
    int32_t at = 0;
    for (unsigned char c : key) {
      auto& kids = nodes[at].kids;
      auto it = std::lower_bound(kids.begin(), kids.end(), c,
                                 [](const auto& k, uint8_t b) { return k.first < b; });
      if (it != kids.end() && it->first == c) {
        at = it->second;
      } else {
        int32_t fresh = static_cast<int32_t>(nodes.size());
        kids.insert(it, {c, fresh});
        nodes.emplace_back();
        at = fresh;
      }
    }
    nodes[at].value = value;
  }

  // Place nodes breadth first. Every cell is padded so that base + 255 is always in range,
  // which lets step() skip a bounds check. Free cells are found through skip pointers
  // (union-find with path compression), so placement stays near-linear.
  cells_.assign(nodes.size() * 2 + 512, Cell{});
  values_.assign(cells_.size(), -1);
  std::vector<uint8_t> used_base(cells_.size(), 0);  // two nodes never share a base
  std::vector<int32_t> skip(cells_.size());
  for (size_t i = 0; i < skip.size(); ++i) skip[i] = static_cast<int32_t>(i);
  auto grow = [&](size_t n) {
    if (cells_.size() >= n + 257) return;
    size_t old = cells_.size(), size = std::max(n + 257, old * 2);
    cells_.resize(size, Cell{});
    values_.resize(size, -1);
    used_base.resize(size, 0);
    skip.resize(size);
    for (size_t i = old; i < size; ++i) skip[i] = static_cast<int32_t>(i);
  };
  // First free cell at or after i.
  auto find_free = [&](size_t i) {
    grow(i);
    size_t root = i;
    while (static_cast<size_t>(skip[root]) != root) root = static_cast<size_t>(skip[root]);
    while (static_cast<size_t>(skip[i]) != root) {
      size_t next = static_cast<size_t>(skip[i]);
      skip[i] = static_cast<int32_t>(root);
      i = next;
    }
    return root;
  };
  auto occupy = [&](size_t i) {
    grow(i + 1);
    skip[i] = static_cast<int32_t>(i + 1);
  };
  std::vector<int32_t> where(nodes.size(), -1);
  where[0] = 0;
  cells_[0].check = kFree - 1;  // the root cell is taken (it has no parent)
  occupy(0);
  std::deque<int32_t> queue{0};
  while (!queue.empty()) {
    int32_t id = queue.front();
    queue.pop_front();
    const BuildNode& node = nodes[id];
    const int32_t cell = where[id];
    values_[cell] = node.value;
    if (node.value >= 0) cells_[cell].check |= kHasValue;
    // A leaf keeps base 0: no cell's check ever names a leaf, so every step from it fails.
    if (node.kids.empty()) continue;
    const size_t lo = node.kids.front().first;
    size_t base = 0;
    for (size_t f = find_free(lo + 1);; f = find_free(f + 1)) {
      base = f - lo;
      grow(base + 256);
      if (used_base[base]) continue;
      bool ok = true;
      for (const auto& kid : node.kids)
        if (cells_[base + kid.first].check != kFree) {
          ok = false;
          break;
        }
      if (ok) break;
    }
    used_base[base] = 1;
    cells_[cell].base = static_cast<int32_t>(base);
    for (const auto& [c, kid] : node.kids) {
      cells_[base + c].check = cell;
      occupy(base + c);
      where[kid] = static_cast<int32_t>(base + c);
      queue.push_back(kid);
    }
  }
  // Trim, keeping 256 cells of slack past the largest used index.
  size_t last = 0;
  for (size_t i = 0; i < cells_.size(); ++i)
    if (cells_[i].check != kFree) last = i;
  cells_.resize(last + 257);
  values_.resize(cells_.size(), -1);
}

void DoubleArrayTrie::save(image::ImageWriter& out) const {
  const uint64_t n = cells_.size();
  out.put(n);
  out.put_array(cells_.data(), cells_.size());
  out.put_array(values_.data(), values_.size());
}

DoubleArrayTrie DoubleArrayTrie::load(image::ImageReader& in, size_t vocab) {
  const uint64_t n = in.get<uint64_t>();
  // The build trims to the last used cell + 257; states are int32.
  if (n < 257 || n > uint64_t(kFree)) throw image::ImageError("image: bad trie size");
  if (n > in.left() / (sizeof(Cell) + sizeof(int32_t))) throw image::ImageError("image truncated");
  DoubleArrayTrie t;
  t.cells_.resize(n);  // after the size checks: a huge n is refused, not allocated
  in.get_array(t.cells_.data(), t.cells_.size());
  t.values_.resize(n);
  in.get_array(t.values_.data(), t.values_.size());
  for (size_t i = 0; i < n; ++i) {
    const Cell& c = t.cells_[i];
    if (c.base < 0 || uint64_t(c.base) + 256 > n) throw image::ImageError("image: bad trie base");
    const int32_t v = t.values_[i];
    const bool ends_key = c.check != kFree && (c.check & kHasValue);
    if (v < -1 || v >= int64_t(vocab) || (v >= 0) != ends_key)
      throw image::ImageError("image: bad trie value");
  }
  return t;
}

}  // namespace qkv::wordpiece
