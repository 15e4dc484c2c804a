// Vocabulary images on disk, for any plugin: the built tables of a tokenizer in a cache folder
// the daemon owns, keyed by the SHA-256 of what they were built from, so a later load reads
// them instead of parsing the vocabulary and building tables again. An image that is missing,
// truncated, corrupt (checksum), of another format (magic, version) or key, or whose payload
// the plugin refuses is rebuilt from the vocabulary and replaced, never trusted. The payload's
// layout is the plugin's (image_bytes.hpp reads it bounds-checked).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace qkv::image {

// One plugin's kind of image: its file names start with `prefix`, its header carries `magic`
// and `version` (bumped whenever the payload's layout or a table's meaning changes).
struct Format {
  std::string_view prefix;  // "bpe" -> <folder>/bpe-<key>.img
  char magic[8];
  uint32_t version;
};

// A file's bytes mapped read-only while this lives: an image being read, or a vocabulary
// hashed into its key without a zero-filled buffer and a copy of its bytes.
class MappedFile {
 public:
  MappedFile(int fd, size_t size);
  // Not ok() when `path` cannot be opened, is not a regular file, is empty or cannot be mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::string_view bytes() const noexcept { return {data_, data_ ? size_ : 0}; }
  bool ok() const noexcept { return data_ != nullptr; }

 private:
  void map(int fd);  // size_ bytes of fd, read-only; data_ stays null when that fails
  const char* data_ = nullptr;
  size_t size_ = 0;
};

// What an image stands for: everything added (the plugin's name and version, the
// configuration, the sources' bytes). Any change gives another key (and another file name).
class Key {
 public:
  explicit Key(std::string_view domain);  // e.g. "qkv tokenizer-bpe image\n"
  void add(std::string_view bytes);
  // Length-prefixed, so no two different lists of files give the same key.
  void add_file(std::string_view config_key, std::string_view bytes);
  std::string hex();  // 64 lowercase hex digits; once

 private:
  struct Free {
    void operator()(evp_md_ctx_st* ctx) const noexcept;
  };
  std::unique_ptr<evp_md_ctx_st, Free> sha_;  // SHA-256 of everything added
};

enum class Source { kImage, kBuiltAndSaved, kBuilt };
struct Outcome {
  Source source;
  std::string note;  // why an image was not used or not saved ("" when it was)
};

// The image for `key_hex` in `folder` if it is sound and `adopt` takes its payload (adopt
// throws ImageError to refuse it); else build(), then save image() there atomically (a
// temporary file renamed into place). An empty folder disables images (build() only).
// Failing to save only costs the next load time: it is reported in the note, not thrown.
Outcome load_or_build(const std::string& folder, const Format& format, const std::string& key_hex,
                      const std::function<void(std::string_view payload)>& adopt,
                      const std::function<void()>& build,
                      const std::function<std::string()>& image);

// Where a plugin's images live: $QKV_CACHE_DIR/<plugin> (e.g. tokenizer-bpe). qkvd sets
// QKV_CACHE_DIR to a folder it owns (daemon/main/qkvd.cpp: $CACHE_DIRECTORY, $XDG_CACHE_HOME/qkv
// or ~/.cache/qkv), never one a client names; unset or empty: "" (no images, tables are built
// on every load).
std::string cache_folder(std::string_view plugin);

// The file an image of `key_hex` has in `folder`.
std::string image_path(const std::string& folder, const Format& format, const std::string& key_hex);
// The image file's bytes for a payload (header + payload), and the payload back: false, with
// `why`, when the bytes are not a sound image of key_hex in this format.
std::string image_file_bytes(const Format& format, const std::string& key_hex,
                             std::string_view payload);
bool image_payload(std::string_view file, const Format& format, const std::string& key_hex,
                   std::string_view* payload, std::string* why);

}  // namespace qkv::image
