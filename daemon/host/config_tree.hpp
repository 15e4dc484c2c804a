// An immutable copy of a plugin's YAML config subtree, with each value's position. Plugins read
// it from many threads; yaml-cpp nodes are not safe for that (even const lookups allocate in the
// shared document), so config/ copies each plugin subtree once, when it validates the pipeline,
// and the tree travels from there (PipelineConfig, caches, InstanceConfig) without yaml-cpp.
#pragma once

#include <qkv/abi.h>

#include "io/directory.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace YAML {
class Node;  // only from_yaml reads YAML; users of the tree need no yaml-cpp
}

namespace qkv::host {

struct ConfigValue {
  qkv_value_type type = QKV_VALUE_MISSING;
  std::string scalar;              // QKV_VALUE_SCALAR: the YAML text
  std::vector<std::string> keys;   // QKV_VALUE_MAP: keys, in file order
  std::vector<ConfigValue> items;  // QKV_VALUE_MAP: values (parallel to keys); LIST: items
  int line = -1, column = -1;      // 0-based position in the source file; -1: unknown
  // Given by a daemon client (a `set` value, or any value of a pipeline named by path). The
  // host's config_path hands such a value out only when the path policy checked it
  // (pipeline/client_paths.hpp), which replaces the scalar by the resolved path.
  bool from_client = false;
  bool path_checked = false;
  // A checked client path, opened beneath its root when it was checked: config_path hands the
  // plugin this open file (as /proc/self/fd/N), never the path, which a client could swap for
  // a symlink after the check. Shared by copies; not part of fingerprint() (the path is).
  std::shared_ptr<const io::UniqueFd> pinned;

  // Copies `node` (an undefined or invalid node gives a MISSING value).
  static ConfigValue from_yaml(const YAML::Node& node);

  // The child named by one path part: a map key, or a list index in decimal.
  const ConfigValue* child(std::string_view part) const noexcept;

  // The value at a dotted path ("" is this value), or nullptr. `deepest` (optional) receives
  // the deepest value that exists on the way, for positions of missing keys.
  const ConfigValue* find(std::string_view path, const ConfigValue** deepest = nullptr) const;

  size_t size() const noexcept { return items.size(); }

  // Every type, key, scalar and position in one string: equal strings, equal trees. For cache
  // keys of what a plugin instance was created with.
  std::string fingerprint() const;
};

}  // namespace qkv::host
