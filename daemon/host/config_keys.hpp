// A plugin's declared config keys (qkv_plugin_descriptor.config_keys, ABI 1.1): reading the
// declaration, and checking a config subtree against it before the plugin is created, so a
// misspelled key is a configuration error with its file:line:column, not a silent default.
#pragma once

#include "host/config_tree.hpp"

#include <qkv/abi.h>

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace qkv::host {

// The keys `d` declares, or nullopt when it declares none (a 1.0 plugin, or NULL config_keys).
std::optional<std::span<const qkv_config_key>> declared_config_keys(const qkv_plugin_descriptor& d);

// True when `key` is declared with QKV_CONFIG_KEY_PATH (a file the plugin reads through
// config_path): what the host's path policy applies to.
bool is_path_key(const qkv_plugin_descriptor& d, std::string_view key);

// Empty when `config` (the plugin's subtree) holds only declared keys, each of its declared
// type (or when nothing is declared); else "<where>: plugin 'NAME': ..." naming the key and
// what was expected. `where(path)` gives the file:line:column of a key in `config`.
std::string check_declared_keys(const qkv_plugin_descriptor& d, const ConfigValue& config,
                                const std::function<std::string(std::string_view)>& where);

}  // namespace qkv::host
