// Version negotiation (docs/sdk.md §6, versions and compatibility): decides whether this host can
// use a plugin's descriptor.
#pragma once

#include <qkv/abi.h>

#include <optional>
#include <string>
#include <string_view>

namespace qkv::host {

// "tokenizer", "positional", "attention", or "unknown kind N".
std::string kind_name(uint32_t kind);

// Size of the v1.0 kind table for `kind` (0 for an unknown kind).
size_t kind_table_min_size(uint32_t kind) noexcept;

// Why this host refuses the descriptor ("<cause>; <fix>"), or nullopt when it is usable.
// Checks in order: the fixed header, ABI major, ABI minor, struct sizes, kind, null fields.
std::optional<std::string> check_descriptor(const qkv_plugin_descriptor* d);

}  // namespace qkv::host
