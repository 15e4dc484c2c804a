#include "host/config_keys.hpp"

#include <charconv>
#include <cstdlib>

namespace qkv::host {
namespace {

const char* type_name(uint32_t type) {
  switch (type) {
    case QKV_KEY_STRING:
      return "a string";
    case QKV_KEY_INTEGER:
      return "an integer";
    case QKV_KEY_NUMBER:
      return "a number";
    case QKV_KEY_BOOL:
      return "true or false";
    case QKV_KEY_LIST:
      return "a list";
    case QKV_KEY_MAP:
      return "a mapping";
  }
  return "any value";
}

bool is_integer(const std::string& s) {
  long long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

bool is_number(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  (void)std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

// Whether `v` fits the declared type; null fits every type (it reads as "not set").
bool fits(const ConfigValue& v, uint32_t type) {
  if (v.type == QKV_VALUE_NULL || type == QKV_KEY_ANY) return true;
  switch (type) {
    case QKV_KEY_STRING:
      return v.type == QKV_VALUE_SCALAR;
    case QKV_KEY_INTEGER:
      return v.type == QKV_VALUE_SCALAR && is_integer(v.scalar);
    case QKV_KEY_NUMBER:
      return v.type == QKV_VALUE_SCALAR && is_number(v.scalar);
    case QKV_KEY_BOOL:
      return v.type == QKV_VALUE_SCALAR && (v.scalar == "true" || v.scalar == "false");
    case QKV_KEY_LIST:
      return v.type == QKV_VALUE_LIST;
    case QKV_KEY_MAP:
      return v.type == QKV_VALUE_MAP;
  }
  return false;
}

std::string found(const ConfigValue& v) {
  switch (v.type) {
    case QKV_VALUE_SCALAR:
      return "'" + v.scalar + "'";
    case QKV_VALUE_LIST:
      return "a list";
    case QKV_VALUE_MAP:
      return "a mapping";
    default:
      return "nothing";
  }
}

}  // namespace

std::optional<std::span<const qkv_config_key>> declared_config_keys(
    const qkv_plugin_descriptor& d) {
  if (!QKV_STRUCT_HAS(&d, qkv_plugin_descriptor, config_key_count) || !d.config_keys)
    return std::nullopt;
  return std::span<const qkv_config_key>(d.config_keys, d.config_key_count);
}

bool is_path_key(const qkv_plugin_descriptor& d, std::string_view key) {
  if (auto keys = declared_config_keys(d))
    for (const qkv_config_key& k : *keys)
      if (k.name && key == k.name) return k.flags & QKV_CONFIG_KEY_PATH;
  return false;
}

std::string check_declared_keys(const qkv_plugin_descriptor& d, const ConfigValue& config,
                                const std::function<std::string(std::string_view)>& where) {
  auto keys = declared_config_keys(d);
  if (!keys || config.type != QKV_VALUE_MAP) return {};  // not declared, or nothing to check
  const std::string plugin = std::string("plugin '") + (d.name ? d.name : "?") + "'";
  for (size_t i = 0; i < config.keys.size(); ++i) {
    const std::string& name = config.keys[i];
    const qkv_config_key* declared = nullptr;
    for (const qkv_config_key& k : *keys)
      if (k.name && name == k.name) declared = &k;
    if (!declared) {
      std::string known;
      for (const qkv_config_key& k : *keys)
        if (k.name) known += (known.empty() ? "" : ", ") + std::string(k.name);
      return where(name) + ": " + plugin + " has no config key '" + name +
             "' (its keys: " + (known.empty() ? "none" : known) + ")";
    }
    if (!fits(config.items[i], declared->type))
      return where(name) + ": " + plugin + ": '" + name + "' must be " + type_name(declared->type) +
             ", found " + found(config.items[i]);
  }
  return {};
}

}  // namespace qkv::host
