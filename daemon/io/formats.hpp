// Byte-exact formatting of the output lines of docs/formats.md. Pure functions that append
// to a string, so pipeline workers format in parallel and the writer only copies bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace qkv::io {

// "[15496,995]" (no newline).
void append_ids(std::string& out, std::span<const int32_t> ids);
// {"ids":[15496,995],"offsets":[[0,5],[5,11]]}; offsets holds 2 values per id.
void append_ids_offsets(std::string& out, std::span<const int32_t> ids,
                        std::span<const uint32_t> offsets);
// A JSON string literal with quotes; the input must be valid UTF-8 (non-ASCII stays raw,
// control characters become \n \t ... or \u00XX, as nlohmann_json's dump does).
void append_json_string(std::string& out, std::string_view utf8);
// {"text":"..."} when bytes are valid UTF-8, else {"bytes_b64":"..."} (no newline).
void append_text_record(std::string& out, std::string_view bytes);
void append_base64(std::string& out, std::string_view bytes);
// Little-endian uint16 (wide=false) or uint32 ids; throws std::out_of_range for an id that
// does not fit.
void append_bin_ids(std::string& out, std::span<const int32_t> ids, bool wide);

}  // namespace qkv::io
