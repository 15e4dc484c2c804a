// tokenizer-wordpiece's vocabulary images: a WordPieceTokenizer's built tables
// (WordPieceTokenizer::image, wordpiece_image.cpp) in the shared image container
// (plugins/common/vocab_image: key, checksum, atomic save, rebuild when unsound).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "vocab_image/image_file.hpp"
#include "wordpiece_tokenizer.hpp"

namespace qkv::wordpiece {

// What the tables are built from: the plugin's version, the Unicode data (unicode_identity),
// the normalizer flags, the unk token and every vocabulary entry (id order). The spec is the
// vocabulary file after parsing and the config's overrides, so the same tables from another
// file format or path share an image.
std::string image_key(const ModelSpec& spec, std::string_view plugin_version);

struct ImageResult {
  std::unique_ptr<WordPieceTokenizer> tokenizer;
  image::Source source;
  std::string note;  // why an image was not used or not saved ("" when it was)
};

// The tokenizer of `spec` through its image in `folder` if that is sound; else built, and its
// image saved there. An empty folder: built, no image.
ImageResult make_tokenizer(ModelSpec spec, const std::string& folder,
                           std::string_view plugin_version);

// The file an image of `key_hex` has in `folder`.
std::string image_path(const std::string& folder, const std::string& key_hex);

}  // namespace qkv::wordpiece
