// Pulls the text fields out of one .jsonl line, applying the invalid-UTF-8 policy to raw
// bytes and to lone-surrogate escapes (\uD800 without its pair), which nlohmann_json rejects.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::io {

struct InvalidUtf8 {
  size_t field = 0;          // index into the requested fields
  uint64_t doc_offset = 0;   // byte offset in the field's decoded text
  uint64_t line_offset = 0;  // byte offset in the line (add the line's file offset)
};

struct FieldsResult {
  std::vector<std::string> texts;      // one per requested field (valid UTF-8)
  std::optional<InvalidUtf8> invalid;  // policy error: the first invalid place in a field
  std::string error;                   // not JSON, not an object, field missing / not a string
  // The id field's value as compact JSON (a string or an integer); empty when the record has
  // none, it is null, or no id field was asked for.
  std::string id;
  bool ok() const { return error.empty() && !invalid; }
};

// replace=false: a field with invalid UTF-8 gives `invalid` (and no texts). `id_field`
// (input.id_field; empty: none) must hold a string or an integer when present (else `error`).
FieldsResult extract_fields(std::string_view line, std::span<const std::string> fields,
                            bool replace, std::string_view id_field = {});

// Replaces invalid raw bytes by U+FFFD bytes and lone-surrogate escapes by \uFFFD; `repairs`
// receives the line offset of each. Exposed for tests.
std::string repair_json_line(std::string_view line, std::vector<size_t>& repairs);

}  // namespace qkv::io
