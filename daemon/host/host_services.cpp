#include "host/host_services.hpp"

#include "host/logger.hpp"
#include "host/plugin_error.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace qkv::host {
namespace {

HostServices& self(void* ctx) { return *static_cast<HostServices*>(ctx); }

void c_log(void* ctx, qkv_log_level level, const char* message) {
  self(ctx).log(level, message ? message : "");
}
qkv_error* c_error_new(void*, qkv_status code, const char* message) {
  return error_new(code, message ? message : "");
}
qkv_status c_error_code(void*, const qkv_error* error) {
  return error ? error->code : QKV_ERR_INTERNAL;
}
const char* c_error_message(void*, const qkv_error* error) {
  return error ? error->message.c_str() : "";
}
void c_error_free(void*, qkv_error* error) { error_free(error); }
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

}  // namespace

HostServices::HostServices(std::string plugin_name, InstanceConfig config)
    : plugin_name_(std::move(plugin_name)),
      settings_(std::move(config)),
      config_{std::move(settings_.config)} {
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
  table_.error_code = c_error_code;
  table_.error_message = c_error_message;
  table_.error_free = c_error_free;
}

void HostServices::log(qkv_log_level level, std::string_view message) const {
  log_message(level, plugin_name_, message);
}

namespace {

// Fills the outputs of config_get / config_map_entry for `v` (strings live in the tree).
qkv_value_type describe(const ConfigValue& v, const char** text, size_t* size) {
  if (v.type == QKV_VALUE_SCALAR) {
    if (text) *text = v.scalar.c_str();
    if (size) *size = v.scalar.size();
  } else if (size && (v.type == QKV_VALUE_LIST || v.type == QKV_VALUE_MAP)) {
    *size = v.size();
  }
  return v.type;
}

}  // namespace

qkv_value_type HostServices::get(const qkv_config* cfg, std::string_view path, const char** text,
                                 size_t* size) {
  if (text) *text = nullptr;
  if (size) *size = 0;
  const ConfigValue* v = root(cfg).find(path);
  return v ? describe(*v, text, size) : QKV_VALUE_MISSING;
}

qkv_value_type HostServices::map_entry(const qkv_config* cfg, std::string_view path, size_t index,
                                       const char** key, size_t* key_size, const char** text,
                                       size_t* size) {
  if (key) *key = nullptr;
  if (key_size) *key_size = 0;
  if (text) *text = nullptr;
  if (size) *size = 0;
  const ConfigValue* map = root(cfg).find(path);
  if (!map || map->type != QKV_VALUE_MAP || index >= map->size()) return QKV_VALUE_MISSING;
  if (key) *key = map->keys[index].c_str();
  if (key_size) *key_size = map->keys[index].size();
  return describe(map->items[index], text, size);
}

std::string HostServices::where(const qkv_config* cfg, std::string_view path) {
  const ConfigValue* deepest = nullptr;
  const ConfigValue* v = root(cfg).find(path, &deepest);
  const ConfigValue* at = v ? v : deepest;
  std::string out = settings_.source_file.empty() ? "<config>" : settings_.source_file;
  if (at && at->line >= 0) {
    out += ':';
    out += std::to_string(at->line + 1);
    out += ':';
    out += std::to_string(at->column + 1);
  }
  return out;
}

qkv_error* HostServices::path(const qkv_config* cfg, std::string_view key, const char** out) {
  const char* text = nullptr;
  size_t size = 0;
  if (get(cfg, key, &text, &size) != QKV_VALUE_SCALAR || size == 0)
    return error_new(QKV_ERR_CONFIG, where(cfg, key) + ": '" + std::string(key) +
                                         "': expected a file path (the key is required)");
  // The path policy: a client's value is a path only once checked against the daemon's roots.
  const ConfigValue* v = root(cfg).find(key);
  if (v->from_client && !v->path_checked)
    return error_new(QKV_ERR_CONFIG,
                     where(cfg, key) + ": '" + std::string(key) +
                         "': a path a client gave is used only when checked against roots.models "
                         "and roots.input, and this plugin does not declare the key as a path");
  std::filesystem::path p(std::string(text, size));
  if (p.is_relative()) p = settings_.config_dir / p;
  std::string handed = p.lexically_normal().string();
  if (v->pinned && *v->pinned) {
    // The file the policy checked, as it was opened then: the plugin reopens this fd, whatever
    // happened to the path since (pipeline/client_paths.cpp opened it beneath its root).
    struct stat st {};
    if (::fstat(v->pinned->get(), &st) != 0 || !S_ISREG(st.st_mode))
      return error_new(QKV_ERR_IO, where(cfg, key) + ": '" + std::string(key) + "': " + p.string() +
                                       " is not a regular file");
    if (settings_.max_file_bytes && uint64_t(st.st_size) > settings_.max_file_bytes)
      return too_large(cfg, key, p, uint64_t(st.st_size));
    std::string fd_path = "/proc/self/fd/" + std::to_string(v->pinned->get());
    if (::access(fd_path.c_str(), R_OK) == 0) {  // no /proc: the checked path, as before
      handed = fd_path;
      std::lock_guard lock(mutex_);
      shown_as_.try_emplace(std::move(fd_path), p.lexically_normal().string());
    }
  } else if (settings_.max_file_bytes) {  // before the plugin reads a byte of it
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec)) {
      auto bytes = std::filesystem::file_size(p, ec);
      if (!ec && bytes > settings_.max_file_bytes) return too_large(cfg, key, p, bytes);
    }
  }
  std::lock_guard lock(mutex_);
  auto [it, inserted] = resolved_.try_emplace(std::string(key), std::move(handed));
  if (out) *out = it->second.c_str();
  return nullptr;
}

qkv_error* HostServices::too_large(const qkv_config* cfg, std::string_view key,
                                   const std::filesystem::path& file, uint64_t bytes) {
  return error_new(QKV_ERR_IO, where(cfg, key) + ": '" + std::string(key) + "': " + file.string() +
                                   " is " + std::to_string(bytes) + " bytes, over " +
                                   settings_.limit_name + " (" +
                                   std::to_string(settings_.max_file_bytes) + ")");
}

std::string HostServices::readable(std::string message) const {
  std::lock_guard lock(mutex_);
  for (const auto& [fd_path, real] : shown_as_) {
    for (size_t at = message.find(fd_path); at != std::string::npos;
         at = message.find(fd_path, at + real.size())) {
      // "/proc/self/fd/1" must not match inside "/proc/self/fd/12".
      const size_t end = at + fd_path.size();
      if (end < message.size() && std::isdigit(static_cast<unsigned char>(message[end]))) {
        at += 1;
        continue;
      }
      message.replace(at, fd_path.size(), real);
    }
  }
  return message;
}

uint64_t HostServices::file_bytes() const {
  std::lock_guard lock(mutex_);
  uint64_t total = 0;
  for (const auto& [key, file] : resolved_) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(file, ec)) {
      auto n = std::filesystem::file_size(file, ec);
      if (!ec) total += n;
    }
  }
  return total;
}

std::vector<HostServices::LoadedFile> HostServices::loaded_files() const {
  std::lock_guard lock(mutex_);
  std::vector<LoadedFile> out;
  for (const auto& [key, file] : resolved_) {
    auto shown = shown_as_.find(file);
    out.push_back({key, file, shown == shown_as_.end() ? file : shown->second});
  }
  std::sort(out.begin(), out.end(),
            [](const LoadedFile& a, const LoadedFile& b) { return a.key < b.key; });
  return out;
}

qkv_error* HostServices::tensor(std::string_view name, qkv_tensor_view* out) {
  if (!out || out->struct_size < sizeof(qkv_tensor_view))
    return error_new(QKV_ERR_INVALID_ARGUMENT,
                     "tensor_get: output view too small (set struct_size)");
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
