// Builds a Bpe from the plugin's configuration keys (see .git/SCHEMA.md, tokenizer-bpe).
#pragma once

#include <memory>
#include <string>

#include "bpe.hpp"
#include "image_file.hpp"

namespace qkv::bpe {

struct BpeConfig {
  std::string encoding;      // r50k_base | gpt2 | cl100k_base | o200k_base | custom | ""
  std::string ranks;         // *.tiktoken
  std::string encoder_json;  // GPT-2 encoder.json (with vocab_bpe)
  std::string vocab_bpe;
  std::string tokenizer_json;  // HuggingFace tokenizer.json
};

// Throws LoadError (files) or std::invalid_argument (configuration, vocabulary consistency).
std::unique_ptr<Bpe> make_bpe(const BpeConfig& config);

// The same Bpe, through the vocabulary image of this configuration in `image_folder` (none
// when empty): keyed by `plugin_version`, the encoding and the bytes of each source file.
ImageResult make_bpe(const BpeConfig& config, const std::string& image_folder,
                     std::string_view plugin_version);
// The image key of a configuration (reads its source files).
std::string image_key(const BpeConfig& config, std::string_view plugin_version);

}  // namespace qkv::bpe
