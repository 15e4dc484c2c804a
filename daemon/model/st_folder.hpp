// The sentence-transformers folder convention around a model directory (modules.json,
// 1_Pooling/config.json, Normalize, sentence_bert_config.json,
// config_sentence_transformers.json), as sentence_transformers/SentenceTransformer.py reads it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace qkv::model {

enum class Pooling { none, cls, mean, max, last };

struct SentenceTransformersFolder {
  bool present = false;                        // modules.json found
  Pooling pooling = Pooling::none;             // from the Pooling module's config.json
  bool include_prompt = true;                  // its include_prompt: false pools text tokens only
  bool normalize = false;                      // a Normalize module is listed
  uint32_t max_seq_length = 0;                 // sentence_bert_config.json; 0: not given
  bool do_lower_case = false;                  // sentence_bert_config.json
  std::map<std::string, std::string> prompts;  // config_sentence_transformers.json
  std::string default_prompt_name;             // its default_prompt_name ("": none)
};

// Reads what `dir` holds; a folder without modules.json is not a sentence-transformers folder
// (present = false). Throws ModelError naming the file and key for what qkv cannot compute: a
// pooling mode other than cls / mean / max / lasttoken, several modes at once, a module type
// other than Transformer / Pooling / Normalize, a Transformer module not at the folder's root.
SentenceTransformersFolder read_sentence_transformers(const std::filesystem::path& dir);

const char* to_string(Pooling p);

}  // namespace qkv::model
