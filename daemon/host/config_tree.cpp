#include "host/config_tree.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>

namespace qkv::host {
namespace {

// Deep enough for any real config; stops pathological alias nesting.
constexpr int kMaxDepth = 128;

ConfigValue copy(const YAML::Node& node, int depth) {
  ConfigValue v;
  if (!node.IsDefined()) return v;
  const YAML::Mark mark = node.Mark();
  if (!mark.is_null()) {
    v.line = mark.line;
    v.column = mark.column;
  }
  if (depth > kMaxDepth) return v;
  switch (node.Type()) {
    case YAML::NodeType::Null:
      v.type = QKV_VALUE_NULL;
      break;
    case YAML::NodeType::Scalar:
      v.type = QKV_VALUE_SCALAR;
      v.scalar = node.Scalar();
      break;
    case YAML::NodeType::Sequence:
      v.type = QKV_VALUE_LIST;
      v.items.reserve(node.size());
      for (const auto& item : node) v.items.push_back(copy(item, depth + 1));
      break;
    case YAML::NodeType::Map:
      v.type = QKV_VALUE_MAP;
      v.items.reserve(node.size());
      v.keys.reserve(node.size());
      for (const auto& entry : node) {
        // Complex keys (maps, lists) cannot be named by a path: keep them unreachable.
        v.keys.push_back(entry.first.IsScalar() ? entry.first.Scalar() : std::string());
        v.items.push_back(copy(entry.second, depth + 1));
      }
      break;
    case YAML::NodeType::Undefined:
      break;
  }
  return v;
}

void append_fingerprint(const ConfigValue& v, std::string& out) {
  // Lengths before texts, so no scalar or key can imitate the structure around it.
  out += std::to_string(int(v.type)) + '@' + std::to_string(v.line) + ':' +
         std::to_string(v.column) + (v.from_client ? "c" : "") + (v.path_checked ? "p" : "") + '#' +
         std::to_string(v.scalar.size()) + '"' + v.scalar;
  out += '[' + std::to_string(v.items.size());
  for (size_t i = 0; i < v.items.size(); ++i) {
    if (v.type == QKV_VALUE_MAP) out += '#' + std::to_string(v.keys[i].size()) + '"' + v.keys[i];
    append_fingerprint(v.items[i], out);
  }
  out += ']';
}

}  // namespace

std::string ConfigValue::fingerprint() const {
  std::string out;
  append_fingerprint(*this, out);
  return out;
}

ConfigValue ConfigValue::from_yaml(const YAML::Node& node) { return copy(node, 0); }

const ConfigValue* ConfigValue::child(std::string_view part) const noexcept {
  if (type == QKV_VALUE_MAP) {
    // Later duplicates would shadow earlier ones in YAML's view; yaml-cpp keeps the first.
    for (size_t i = 0; i < keys.size(); ++i)
      if (keys[i] == part && !part.empty()) return &items[i];
    return nullptr;
  }
  if (type == QKV_VALUE_LIST) {
    size_t index = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), index);
    if (ec != std::errc() || end != part.data() + part.size() || index >= items.size())
      return nullptr;
    return &items[index];
  }
  return nullptr;
}

const ConfigValue* ConfigValue::find(std::string_view path, const ConfigValue** deepest) const {
  const ConfigValue* cur = type == QKV_VALUE_MISSING ? nullptr : this;
  if (deepest) *deepest = cur;
  if (!cur) return nullptr;
  while (!path.empty()) {
    const auto dot = path.find('.');
    const ConfigValue* next = cur->child(path.substr(0, dot));
    if (!next) return nullptr;
    cur = next;
    if (deepest) *deepest = cur;
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return cur;
}

}  // namespace qkv::host
