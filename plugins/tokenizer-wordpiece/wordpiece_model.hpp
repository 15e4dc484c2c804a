// Everything a WordPiece tokenizer is built from, and the two file formats it loads from:
// BERT's vocab.txt (one token per line, id = line number) and HF's tokenizer.json.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bert_normalizer.hpp"

namespace qkv::wordpiece {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = true;
};

struct ModelSpec {
  std::vector<std::string> vocab;  // id -> token ("" for ids no token maps to)
  std::string unk_token = "[UNK]";
  std::string prefix = "##";
  size_t max_input_chars_per_word = 100;
  NormalizerFlags normalizer;
  // Tokens matched in raw text before normalization (QKV_SPECIAL_DEFAULT).
  std::vector<AddedToken> added;
  // Post-processing around one sequence: [CLS] ... [SEP]; -1 = none.
  int32_t cls_id = -1;
  int32_t sep_id = -1;
  bool from_tokenizer_json = false;
  bool decode_cleanup = true;  // HF WordPiece decoder `cleanup`
};

// Overrides of the plugin config (docs/SCHEMA: tokenizer-wordpiece keys); unset = file value.
struct SpecOverrides {
  std::optional<bool> clean_text, handle_chinese_chars, lowercase, strip_accents;
  std::optional<std::string> unk_token, prefix;
  std::optional<size_t> max_input_chars_per_word;
};

// vocab.txt: each line (trailing whitespace trimmed, as HF) is a token; the five BERT special
// tokens present in the vocabulary are its added tokens, [CLS]/[SEP] its post-processor.
ModelSpec load_vocab_txt(const std::string& path);

// tokenizer.json with a WordPiece model, a BertNormalizer (or none), a BertPreTokenizer and a
// BertProcessing / TemplateProcessing (or no) post-processor. Throws std::runtime_error
// naming the file and the offending key.
ModelSpec load_tokenizer_json(const std::string& path);

void apply_overrides(ModelSpec& spec, const SpecOverrides& o);

}  // namespace qkv::wordpiece
