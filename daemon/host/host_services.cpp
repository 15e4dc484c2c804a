#include "host/host_services.hpp"

#include "host/logger.hpp"
#include "host/plugin_error.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <iterator>

namespace qkv::host {
namespace {

HostServices& self(void* ctx) { return *static_cast<HostServices*>(ctx); }

void c_log(void* ctx, qkv_log_level level, const char* message) {
  self(ctx).log(level, message ? message : "");
}
qkv_error* c_error_new(void*, qkv_status code, const char* message) {
  return error_new(code, message ? message : "");
}
qkv_value_type c_config_get(void* ctx, const qkv_config* cfg, const char* path, const char** text,
                            size_t* size) {
  try {
    return self(ctx).get(cfg, path ? path : "", text, size);
  } catch (...) {
    return QKV_VALUE_MISSING;
  }
}
qkv_value_type c_config_map_entry(void* ctx, const qkv_config* cfg, const char* path, size_t index,
                                  const char** key, size_t* key_size, const char** text,
                                  size_t* size) {
  try {
    return self(ctx).map_entry(cfg, path ? path : "", index, key, key_size, text, size);
  } catch (...) {
    return QKV_VALUE_MISSING;
  }
}
size_t c_config_where(void* ctx, const qkv_config* cfg, const char* path, char* buf,
                      size_t buf_size) {
  std::string w;
  try {
    w = self(ctx).where(cfg, path ? path : "");
  } catch (...) {
    w = "<config>";
  }
  if (buf && buf_size > 0) {
    size_t n = std::min(w.size(), buf_size - 1);
    std::memcpy(buf, w.data(), n);
    buf[n] = '\0';
  }
  return w.size() + 1;
}
qkv_error* c_config_path(void* ctx, const qkv_config* cfg, const char* path, const char** out) {
  try {
    return self(ctx).path(cfg, path ? path : "", out);
  } catch (const std::exception& e) {
    return error_new(QKV_ERR_INTERNAL, e.what());
  }
}
qkv_error* c_tensor_get(void* ctx, const char* name, qkv_tensor_view* out) {
  try {
    return self(ctx).tensor(name ? name : "", out);
  } catch (const std::exception& e) {
    return error_new(QKV_ERR_INTERNAL, e.what());
  }
}

// "a.b.0" -> parts; empty path -> none.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    auto dot = path.find('.');
    parts.push_back(path.substr(0, dot));
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
  return parts;
}

}  // namespace

HostServices::HostServices(std::string plugin_name, InstanceConfig config)
    : plugin_name_(std::move(plugin_name)), settings_(std::move(config)), config_{settings_.config} {
  table_.struct_size = sizeof table_;
  table_.abi_major = QKV_ABI_MAJOR;
  table_.abi_minor = QKV_ABI_MINOR;
  table_.ctx = this;
  table_.log = c_log;
  table_.error_new = c_error_new;
  table_.config_get = c_config_get;
  table_.config_where = c_config_where;
  table_.config_path = c_config_path;
  table_.tensor_get = c_tensor_get;
  table_.config_map_entry = c_config_map_entry;
}

void HostServices::log(qkv_log_level level, std::string_view message) const {
  log_message(level, plugin_name_, message);
}

HostServices::Found HostServices::lookup(const YAML::Node& root, std::string_view path) const {
  // Only const access: yaml-cpp's non-const operator[] inserts placeholder keys.
  Found f;
  if (!root.IsDefined()) return f;
  f.last.reset(root);
  if (root.IsNull()) {
    f.exists = path.empty();
    f.node.reset(root);
    return f;
  }
  YAML::Node cur(root);
  for (std::string_view part : split_path(path)) {
    const YAML::Node& c = cur;
    // Copy-construct (never reset/assign) from operator[]: a missing key gives an invalid node.
    const YAML::Node next = [&]() -> YAML::Node {
      if (c.IsMap()) return c[std::string(part)];
      if (!c.IsSequence()) return YAML::Node(YAML::NodeType::Undefined);
      size_t index = 0;
      auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), index);
      if (ec != std::errc() || end != part.data() + part.size() || index >= c.size())
        return YAML::Node(YAML::NodeType::Undefined);
      return c[index];
    }();
    if (!next.IsDefined()) return f;
    cur.reset(next);
    f.last.reset(cur);
  }
  f.node.reset(cur);
  f.exists = true;
  return f;
}

const std::string& HostServices::keep(std::string key, std::string value) {
  auto [it, inserted] = kept_.try_emplace(std::move(key), std::move(value));
  return it->second;
}

// The value type of `node`; `scalar` is set for scalars, `size` to the item count otherwise.
qkv_value_type HostServices::describe(const YAML::Node& node, const std::string*& scalar,
                                      size_t& size) {
  scalar = nullptr;
  size = 0;
  switch (node.Type()) {
    case YAML::NodeType::Null: return QKV_VALUE_NULL;
    case YAML::NodeType::Scalar: scalar = &node.Scalar(); return QKV_VALUE_SCALAR;
    case YAML::NodeType::Sequence: size = node.size(); return QKV_VALUE_LIST;
    case YAML::NodeType::Map: size = node.size(); return QKV_VALUE_MAP;
    case YAML::NodeType::Undefined: break;
  }
  return QKV_VALUE_MISSING;
}

qkv_value_type HostServices::get(const qkv_config* cfg, std::string_view path, const char** text,
                                 size_t* size) {
  std::lock_guard lock(mutex_);
  Found f = lookup(cfg ? cfg->node : config_.node, path);
  if (text) *text = nullptr;
  if (size) *size = 0;
  if (!f.exists || !f.node.IsDefined()) return QKV_VALUE_MISSING;
  const std::string* scalar = nullptr;
  size_t count = 0;
  const qkv_value_type type = describe(f.node, scalar, count);
  if (scalar) {
    const std::string& kept = keep(std::string("get:").append(path), *scalar);
    if (text) *text = kept.c_str();
    count = kept.size();
  }
  if (size) *size = count;
  return type;
}

qkv_value_type HostServices::map_entry(const qkv_config* cfg, std::string_view path, size_t index,
                                       const char** key, size_t* key_size, const char** text,
                                       size_t* size) {
  std::lock_guard lock(mutex_);
  if (key) *key = nullptr;
  if (key_size) *key_size = 0;
  if (text) *text = nullptr;
  if (size) *size = 0;
  Found f = lookup(cfg ? cfg->node : config_.node, path);
  if (!f.exists || !f.node.IsMap() || index >= f.node.size()) return QKV_VALUE_MISSING;
  const YAML::Node& map = f.node;
  auto it = map.begin();
  std::advance(it, static_cast<std::ptrdiff_t>(index));
  const std::string id = std::string(path).append("#").append(std::to_string(index));
  if (!it->first.IsScalar()) return QKV_VALUE_MISSING;  // complex keys are not addressable
  const std::string& kept_key = keep("key:" + id, it->first.Scalar());
  if (key) *key = kept_key.c_str();
  if (key_size) *key_size = kept_key.size();
  const std::string* scalar = nullptr;
  size_t count = 0;
  const qkv_value_type type = describe(it->second, scalar, count);
  if (scalar) {
    const std::string& kept = keep("val:" + id, *scalar);
    if (text) *text = kept.c_str();
    count = kept.size();
  }
  if (size) *size = count;
  return type;
}

std::string HostServices::where(const qkv_config* cfg, std::string_view path) {
  std::lock_guard lock(mutex_);
  Found f = lookup(cfg ? cfg->node : config_.node, path);
  const YAML::Node& at = f.exists ? f.node : f.last;
  std::string out = settings_.source_file.empty() ? "<config>" : settings_.source_file;
  if (at.IsDefined()) {
    YAML::Mark m = at.Mark();
    if (!m.is_null()) {
      out += ':';
      out += std::to_string(m.line + 1);
      out += ':';
      out += std::to_string(m.column + 1);
    }
  }
  return out;
}

qkv_error* HostServices::path(const qkv_config* cfg, std::string_view key, const char** out) {
  const char* text = nullptr;
  size_t size = 0;
  if (get(cfg, key, &text, &size) != QKV_VALUE_SCALAR || size == 0)
    return error_new(QKV_ERR_CONFIG, where(cfg, key) + ": '" + std::string(key) +
                                         "': expected a file path (the key is required)");
  std::filesystem::path p(std::string(text, size));
  if (p.is_relative()) p = settings_.config_dir / p;
  std::lock_guard lock(mutex_);
  const std::string& kept = keep(std::string("path:").append(key), p.lexically_normal().string());
  if (out) *out = kept.c_str();
  return nullptr;
}

qkv_error* HostServices::tensor(std::string_view name, qkv_tensor_view* out) {
  if (!out || out->struct_size < sizeof(qkv_tensor_view))
    return error_new(QKV_ERR_INVALID_ARGUMENT, "tensor_get: output view too small (set struct_size)");
  if (!settings_.lookup)
    return error_new(QKV_ERR_UNSUPPORTED, "tensor '" + std::string(name) +
                                              "' requested, but this plugin serves no model");
  std::optional<qkv_tensor_view> view = settings_.lookup(name);
  if (!view)
    return error_new(QKV_ERR_INVALID_INPUT,
                     "the model has no tensor named '" + std::string(name) + "'");
  const uint32_t caller_size = out->struct_size;
  *out = *view;
  out->struct_size = std::min<uint32_t>(caller_size, sizeof(qkv_tensor_view));
  return nullptr;
}

}  // namespace qkv::host
