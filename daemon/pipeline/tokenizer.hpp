// What a pipeline run needs from a tokenizer: the pipeline's encode options already applied.
// The plugin-backed implementation is in plugin_tokenizer.hpp; tests plug in simple fakes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::pipeline {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Appends the ids (and 2 byte offsets per id when `offsets` is given) of valid UTF-8 text.
  // Thread-safe. Throws on failure.
  virtual void encode(std::string_view text, std::vector<int32_t>& ids,
                      std::vector<uint32_t>* offsets) const = 0;
  // Appends the bytes the ids stand for. Thread-safe. Throws on an unknown id.
  virtual void decode(std::span<const int32_t> ids, std::string& out) const = 0;
  // One past the largest id (chooses uint16 or uint32 for .bin files).
  virtual uint32_t vocab_size() const = 0;
};

}  // namespace qkv::pipeline
