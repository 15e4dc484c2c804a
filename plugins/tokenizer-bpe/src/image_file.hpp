// tokenizer-bpe's vocabulary images: a Bpe's built tables (Bpe::image, bpe_image.cpp) in the
// shared image container (plugins/common/vocab_image: key, checksum, atomic save, rebuild
// when unsound).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "bpe.hpp"
#include "vocab_image/image_file.hpp"

namespace qkv::bpe {

// The image key's start: the plugin's version, the encoding, and the hash functions' outputs on
// a probe (an image from a build whose hashing differs would be sound but find nothing).
image::Key image_key_start(std::string_view plugin_version, std::string_view encoding);

struct ImageResult {
  std::unique_ptr<Bpe> bpe;
  enum Source { kImage, kBuiltAndSaved, kBuilt } source;
  std::string note;  // why an image was not used or not saved ("" when it was)
};

// The image for `key` in `folder` if it is sound; else build() and save its image there.
ImageResult load_or_build(const std::string& folder, const std::string& key_hex,
                          const std::function<std::unique_ptr<Bpe>()>& build);

// The file an image of `key_hex` has in `folder`.
std::string image_path(const std::string& folder, const std::string& key_hex);

}  // namespace qkv::bpe
