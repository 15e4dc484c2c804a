// What a pipeline run needs from a tokenizer: the pipeline's encode options already applied.
// The plugin-backed implementation is in plugin_tokenizer.hpp; tests plug in simple fakes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::pipeline {

// What made a job's ids: the tokenizer plugin, its version and the files it loaded (config
// key, path, sha256). Recorded in the manifest; --decode compares it (pipeline/manifest.hpp).
struct TokenizerIdentity {
  struct File {
    std::string key, path, sha256;
  };
  std::string plugin, version;
  std::vector<File> files;
};

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
  // The vocabulary's end-of-text / end-of-sequence id and BERT's [SEP]; -1 when it has none.
  // They pick the default document separator of training outputs (pipeline/output_format.hpp).
  virtual int32_t eos_id() const { return -1; }
  virtual int32_t sep_id() const { return -1; }
  // The id of the token spelled exactly `token`, or -1.
  virtual int32_t token_id(std::string_view /*token*/) const { return -1; }
  // Reads and hashes the loaded files (call once per job, not per document). Fakes: empty.
  virtual TokenizerIdentity identity() const { return {}; }
};

}  // namespace qkv::pipeline
