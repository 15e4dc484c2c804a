// What `add_special` puts around a document's ids: tokenizer.json's post_processor
// (RobertaProcessing as RoBERTa / BART ship it, or TemplateProcessing's single template).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace qkv::bpe {

struct SpecialWrap {
  std::vector<int32_t> prefix, suffix;  // e.g. <s> ... </s>
  // RobertaProcessing trim_offsets: a token's offsets leave out its leading / trailing spaces.
  bool trim_offsets = false;
  bool empty() const { return prefix.empty() && suffix.empty(); }
};

// From tokenizer.json's `post_processor` (null: nothing added). Throws LoadError naming `path`
// and what is unsupported (pair templates are not used: qkv encodes one sequence).
SpecialWrap read_post_processor(const nlohmann::json& post_processor, const std::string& path);

// Wraps ids that were encoded with at most max_length - (prefix + suffix) ids (0: no limit):
// the prefix first (offsets [0, 0)), the suffix last (offsets [text_size, text_size)); the
// specials count against max_length as in HF truncation.
void wrap_with_specials(const SpecialWrap& wrap, std::string_view text, uint32_t max_length,
                        std::vector<int32_t>& ids, std::vector<uint32_t>* offsets);

// The max_length to encode the text itself with, leaving room for the specials.
uint32_t text_budget(const SpecialWrap& wrap, uint32_t max_length);

}  // namespace qkv::bpe
