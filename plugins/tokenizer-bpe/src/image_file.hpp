// Vocabulary images on disk: a Bpe's built tables (Bpe::image) in a cache folder the daemon
// owns, keyed by the SHA-256 of what they were built from, so a later load reads them instead
// of parsing the vocabulary and building tables again. An image that is missing, truncated,
// corrupt (checksum), of another format version or key, or fails the payload's checks is
// rebuilt from the vocabulary and replaced, never trusted.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bpe.hpp"

struct evp_md_ctx_st;

namespace qkv::bpe {

// What an image stands for: the plugin's version, the configuration, and every source file's
// bytes. Any change gives another key (and another file name).
class ImageKey {
 public:
  ImageKey(std::string_view plugin_version, std::string_view encoding);
  void add_file(std::string_view config_key, std::string_view bytes);
  std::string hex();  // 64 lowercase hex digits; once

 private:
  void add(std::string_view bytes);
  struct Free {
    void operator()(evp_md_ctx_st* ctx) const noexcept;
  };
  std::unique_ptr<evp_md_ctx_st, Free> sha_;  // SHA-256 of everything added
};

struct ImageResult {
  std::unique_ptr<Bpe> bpe;
  enum Source { kImage, kBuiltAndSaved, kBuilt } source;
  std::string note;  // why an image was not used or not saved ("" when it was)
};

// The image for `key` in `folder` if it is sound; else build() and save its image there
// (atomically: a temporary file renamed into place). An empty folder disables images.
// Failing to save only costs the next load time: it is reported in `note`, not thrown.
ImageResult load_or_build(const std::string& folder, const std::string& key_hex,
                          const std::function<std::unique_ptr<Bpe>()>& build);

// The file an image of `key_hex` has in `folder`.
std::string image_path(const std::string& folder, const std::string& key_hex);
// The image file's bytes for a payload (header + payload), and the payload back: false, with
// `why`, when the bytes are not a sound image of key_hex.
std::string image_file_bytes(const std::string& key_hex, std::string_view payload);
bool image_payload(std::string_view file, const std::string& key_hex, std::string_view* payload,
                   std::string* why);

}  // namespace qkv::bpe
