// An immutable copy of a plugin's YAML config subtree, with each value's position. Plugins read
// it from many threads; yaml-cpp nodes are not safe for that (even const lookups allocate in the
// shared document), so the host copies the subtree once, when the instance is created.
#pragma once

#include <qkv/abi.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

namespace qkv::host {

struct ConfigValue {
  qkv_value_type type = QKV_VALUE_MISSING;
  std::string scalar;              // QKV_VALUE_SCALAR: the YAML text
  std::vector<std::string> keys;   // QKV_VALUE_MAP: keys, in file order
  std::vector<ConfigValue> items;  // QKV_VALUE_MAP: values (parallel to keys); LIST: items
  int line = -1, column = -1;      // 0-based position in the source file; -1: unknown

  // Copies `node` (an undefined or invalid node gives a MISSING value).
  static ConfigValue from_yaml(const YAML::Node& node);

  // The child named by one path part: a map key, or a list index in decimal.
  const ConfigValue* child(std::string_view part) const noexcept;

  // The value at a dotted path ("" is this value), or nullptr. `deepest` (optional) receives
  // the deepest value that exists on the way, for positions of missing keys.
  const ConfigValue* find(std::string_view path, const ConfigValue** deepest = nullptr) const;

  size_t size() const noexcept { return items.size(); }
};

}  // namespace qkv::host
