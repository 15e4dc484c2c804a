// qkv plugin SDK: header-only C++20 layer over qkv/abi.h.
//
// Write a plugin as a class deriving from qkv::sdk::Tokenizer, Positional or Attention, with a
// constructor taking (qkv::sdk::Host&, qkv::sdk::Config). Export it with one macro:
//
//   QKV_PLUGIN(qkv::sdk::Attention, MyAttention, "attention-mine", "1.0.0", "what it does")
//
// Exceptions never cross the ABI: every trampoline below catches them and turns them into
// host-made error objects: qkv::sdk::Error keeps its status code, std::invalid_argument is
// QKV_ERR_INVALID_ARGUMENT, std::out_of_range is QKV_ERR_OUT_OF_RANGE, anything else is
// QKV_ERR_INTERNAL. So plugin code throws the standard exception that fits, with no try/catch.
//
// A plugin class may declare the keys of its config subtree (ABI 1.1; the host then refuses
// any other key with its file:line:column):
//
//   static constexpr qkv_config_key config_keys[] = {
//       {"vocab", QKV_KEY_STRING, QKV_CONFIG_KEY_PATH}, {"lowercase", QKV_KEY_BOOL, 0}};
//
// (a plugin with no keys at all: `static constexpr std::array<qkv_config_key, 0> config_keys{};`)
#ifndef QKV_PLUGIN_HPP
#define QKV_PLUGIN_HPP

#include <qkv/abi.h>
#include <qkv/attention_check.hpp>

#include <array>
#include <charconv>
#include <cstdint>
#include <exception>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace qkv::sdk {

// An error with an ABI status code; throw it from plugin code.
class Error : public std::runtime_error {
 public:
  Error(qkv_status code, const std::string& message) : std::runtime_error(message), code_(code) {}
  qkv_status code() const noexcept { return code_; }

 private:
  qkv_status code_;
};

// The host's services, as handed to `create`.
class Host {
 public:
  explicit Host(const qkv_host* host) : host_(host) {}
  const qkv_host* raw() const noexcept { return host_; }

  void log(qkv_log_level level, const std::string& message) const noexcept {
    if (host_->log) host_->log(host_->ctx, level, message.c_str());
  }
  qkv_error* make_error(qkv_status code, const char* message) const noexcept {
    return host_->error_new(host_->ctx, code, message);
  }
  // A weight tensor of the model this instance serves; throws Error when absent.
  qkv_tensor_view tensor(const std::string& name) const {
    qkv_tensor_view view{};
    view.struct_size = sizeof view;
    check(host_->tensor_get ? host_->tensor_get(host_->ctx, name.c_str(), &view)
                            : make_error(QKV_ERR_UNSUPPORTED, "host has no tensor lookup"));
    return view;
  }
  // Rethrows a host-made error as an exception (its message stays in the host's object).
  void check(qkv_error* error) const {
    if (error) throw HostError(error);
  }

  // What a host-made error says, for a plugin that handles it instead of returning it.
  struct ErrorInfo {
    qkv_status code;
    std::string message;
  };
  // True when this host lets plugins read and free its errors (ABI 1.1).
  bool can_read_errors() const noexcept {
    return QKV_HOST_HAS(host_, error_code) && QKV_HOST_HAS(host_, error_message) &&
           QKV_HOST_HAS(host_, error_free);
  }
  // Reads `error` and frees it (it must not be returned afterwards). On a 1.0 host, which
  // cannot do that, rethrows it as HostError instead, so it is still reported, never lost.
  ErrorInfo take_error(qkv_error* error) const {
    if (!can_read_errors()) throw HostError(error);
    const char* message = host_->error_message(host_->ctx, error);
    ErrorInfo info{host_->error_code(host_->ctx, error), message ? message : ""};
    host_->error_free(host_->ctx, error);
    return info;
  }
  // The tensor, or nullopt when the model has none of that name (any other error throws).
  std::optional<qkv_tensor_view> find_tensor(const std::string& name) const {
    if (!host_->tensor_get) return std::nullopt;
    qkv_tensor_view view{};
    view.struct_size = sizeof view;
    qkv_error* e = host_->tensor_get(host_->ctx, name.c_str(), &view);
    if (!e) return view;
    if (!can_read_errors()) throw HostError(e);
    ErrorInfo info = take_error(e);
    if (info.code == QKV_ERR_INVALID_INPUT) return std::nullopt;
    throw Error(info.code, info.message);
  }

  // Carries an error object the host already made, so it is passed back unchanged.
  struct HostError : std::exception {
    explicit HostError(qkv_error* e) : error(e) {}
    const char* what() const noexcept override { return "qkv host error"; }
    qkv_error* error;
  };

 private:
  const qkv_host* host_;
};

// Read access to the plugin's YAML subtree. Typed getters throw Error(QKV_ERR_CONFIG) with
// the value's file:line:column when a value has the wrong type.
class Config {
 public:
  Config(const qkv_host* host, const qkv_config* cfg) : host_(host), cfg_(cfg) {}

  qkv_value_type type(const std::string& path) const {
    const char* text = nullptr;
    size_t size = 0;
    return host_->config_get(host_->ctx, cfg_, path.c_str(), &text, &size);
  }
  bool has(const std::string& path) const { return type(path) != QKV_VALUE_MISSING; }

  std::optional<std::string> string(const std::string& path) const {
    const char* text = nullptr;
    size_t size = 0;
    auto t = host_->config_get(host_->ctx, cfg_, path.c_str(), &text, &size);
    if (t == QKV_VALUE_MISSING || t == QKV_VALUE_NULL) return std::nullopt;
    if (t != QKV_VALUE_SCALAR) fail(path, "a scalar");
    return std::string(text, size);
  }
  std::string string_or(const std::string& path, std::string fallback) const {
    auto v = string(path);
    return v ? *v : std::move(fallback);
  }
  std::string required_string(const std::string& path) const {
    auto v = string(path);
    if (!v) fail(path, "a value (the key is required)");
    return *v;
  }
  template <class Int>
  Int integer_or(const std::string& path, Int fallback) const {
    auto v = string(path);
    if (!v) return fallback;
    Int out{};
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
    if (ec != std::errc() || end != v->data() + v->size()) fail(path, "an integer");
    return out;
  }
  double number_or(const std::string& path, double fallback) const {
    auto v = string(path);
    if (!v) return fallback;
    try {
      size_t used = 0;
      double d = std::stod(*v, &used);
      if (used == v->size()) return d;
    } catch (const std::exception&) {
    }
    fail(path, "a number");
  }
  bool boolean_or(const std::string& path, bool fallback) const {
    auto v = string(path);
    if (!v) return fallback;
    if (*v == "true") return true;
    if (*v == "false") return false;
    fail(path, "true or false");
  }
  // Length of the list at path (0 when missing).
  size_t list_size(const std::string& path) const {
    const char* text = nullptr;
    size_t size = 0;
    auto t = host_->config_get(host_->ctx, cfg_, path.c_str(), &text, &size);
    if (t == QKV_VALUE_MISSING) return 0;
    if (t != QKV_VALUE_LIST) fail(path, "a list");
    return size;
  }
  // The scalars of the list at path, in order (empty when missing).
  std::vector<std::string> string_list(const std::string& path) const {
    std::vector<std::string> out;
    for (size_t i = 0, n = list_size(path); i < n; ++i) {
      const std::string item = path + "." + std::to_string(i);
      auto v = string(item);
      if (!v) fail(item, "a scalar");
      out.push_back(std::move(*v));
    }
    return out;
  }
  // The (key, scalar value) entries of the map at path, in file order (empty when missing).
  std::vector<std::pair<std::string, std::string>> string_map(const std::string& path) const {
    std::vector<std::pair<std::string, std::string>> out;
    const char* text = nullptr;
    size_t size = 0;
    auto t = host_->config_get(host_->ctx, cfg_, path.c_str(), &text, &size);
    if (t == QKV_VALUE_MISSING || t == QKV_VALUE_NULL) return out;
    if (t != QKV_VALUE_MAP) fail(path, "a mapping");
    if (!QKV_HOST_HAS(host_, config_map_entry))
      throw Error(QKV_ERR_UNSUPPORTED,
                  where(path) + ": this qkv host cannot list mapping entries; upgrade qkv");
    for (size_t i = 0; i < size; ++i) {
      const char* key = nullptr;
      const char* value = nullptr;
      size_t key_size = 0, value_size = 0;
      auto vt = host_->config_map_entry(host_->ctx, cfg_, path.c_str(), i, &key, &key_size, &value,
                                        &value_size);
      if (vt != QKV_VALUE_SCALAR || !key) fail(path, "a mapping of scalars");
      out.emplace_back(std::string(key, key_size), std::string(value, value_size));
    }
    return out;
  }
  // A file path relative to the config file's folder; throws when missing.
  std::string path(const std::string& key) const {
    const char* out = nullptr;
    if (qkv_error* e = host_->config_path(host_->ctx, cfg_, key.c_str(), &out))
      throw Host::HostError(e);
    return out;
  }
  std::string where(const std::string& path) const {
    char buf[512];
    host_->config_where(host_->ctx, cfg_, path.c_str(), buf, sizeof buf);
    return buf;
  }
  [[noreturn]] void fail(const std::string& path, const std::string& expected) const {
    throw Error(QKV_ERR_CONFIG, where(path) + ": '" + path + "': expected " + expected);
  }

 private:
  const qkv_host* host_;
  const qkv_config* cfg_;
};

// ---------------------------------------------------------------- plugin base classes

// Options of one encode call, as C++ values.
struct EncodeOptions {
  bool offsets = false;
  bool add_special = false;
  qkv_special_policy special_policy = QKV_SPECIAL_DEFAULT;
  uint32_t max_length = 0;
  std::vector<std::string_view> special_names;

  static EncodeOptions from(const qkv_encode_options* o) {
    EncodeOptions r;
    if (!o) return r;
    r.offsets = o->flags & QKV_ENCODE_OFFSETS;
    r.add_special = o->flags & QKV_ENCODE_ADD_SPECIAL;
    r.special_policy = static_cast<qkv_special_policy>(o->special_policy);
    r.max_length = o->max_length;
    for (size_t i = 0; i < o->special_count; ++i) r.special_names.emplace_back(o->special_names[i]);
    return r;
  }
};

// Buffers ids (and offsets) and hands them to the host's sink in blocks: one indirect call per
// block, not per token.
class TokenSink {
 public:
  explicit TokenSink(const qkv_token_sink* sink, bool with_offsets)
      : sink_(sink), with_offsets_(with_offsets) {}
  ~TokenSink() = default;
  TokenSink(const TokenSink&) = delete;
  TokenSink& operator=(const TokenSink&) = delete;

  void push(int32_t id, uint32_t begin = 0, uint32_t end = 0) {
    ids_[n_] = id;
    offsets_[2 * n_] = begin;
    offsets_[2 * n_ + 1] = end;
    if (++n_ == kBlock) flush();
  }
  void flush() {
    if (n_ == 0) return;
    int stop = sink_->append(sink_->ctx, ids_, with_offsets_ ? offsets_ : nullptr, n_);
    n_ = 0;
    if (stop) throw Error(QKV_ERR_CANCELLED, "token sink asked to stop");
  }

 private:
  static constexpr size_t kBlock = 256;
  const qkv_token_sink* sink_;
  bool with_offsets_;
  size_t n_ = 0;
  int32_t ids_[kBlock];
  uint32_t offsets_[2 * kBlock];
};

class ByteSink {
 public:
  explicit ByteSink(const qkv_byte_sink* sink) : sink_(sink) {}
  void append(std::string_view bytes) {
    if (!bytes.empty() && sink_->append(sink_->ctx, bytes.data(), bytes.size()))
      throw Error(QKV_ERR_CANCELLED, "byte sink asked to stop");
  }

 private:
  const qkv_byte_sink* sink_;
};

class Tokenizer {
 public:
  static constexpr qkv_kind kind = QKV_KIND_TOKENIZER;
  virtual ~Tokenizer() = default;
  virtual void encode(std::string_view text, const EncodeOptions& options, TokenSink& sink) = 0;
  virtual void decode(std::span<const int32_t> ids, ByteSink& sink) = 0;
  virtual qkv_tokenizer_info info() = 0;
  virtual int32_t token_to_id(std::string_view token) = 0;
};

class Positional {
 public:
  static constexpr qkv_kind kind = QKV_KIND_POSITIONAL;
  virtual ~Positional() = default;
  virtual qkv_positional_info info() = 0;
  virtual void add(float* x, size_t n, uint32_t dim, size_t row_stride,
                   std::span<const int32_t> positions) {
    (void)x, (void)n, (void)dim, (void)row_stride, (void)positions;
    throw Error(QKV_ERR_UNSUPPORTED, "this positional plugin is not additive");
  }
  virtual void rotate(float* x, size_t n, uint32_t heads, uint32_t head_dim, size_t row_stride,
                      std::span<const int32_t> positions) {
    (void)x, (void)n, (void)heads, (void)head_dim, (void)row_stride, (void)positions;
    throw Error(QKV_ERR_UNSUPPORTED, "this positional plugin is not rotary");
  }
};

class Attention {
 public:
  static constexpr qkv_kind kind = QKV_KIND_ATTENTION;
  virtual ~Attention() = default;
  virtual void forward(const qkv_attention_args& args) = 0;
};

// ---------------------------------------------------------------- trampolines

namespace detail {

// What an instance handle points to: the host (for making errors) and the plugin object.
template <class Base>
struct Instance {
  const qkv_host* host;
  std::unique_ptr<Base> object;
};

template <class Base>
Instance<Base>* self(qkv_instance* p) {
  return reinterpret_cast<Instance<Base>*>(p);
}

// Runs f, turning any exception into a host-made error object.
template <class F>
qkv_error* guarded(const qkv_host* host, F&& f) noexcept {
  try {
    f();
    return nullptr;
  } catch (const Host::HostError& e) {
    return e.error;
  } catch (const Error& e) {
    return host->error_new(host->ctx, e.code(), e.what());
  } catch (const std::invalid_argument& e) {
    return host->error_new(host->ctx, QKV_ERR_INVALID_ARGUMENT, e.what());
  } catch (const std::out_of_range& e) {
    return host->error_new(host->ctx, QKV_ERR_OUT_OF_RANGE, e.what());
  } catch (const std::bad_alloc&) {
    return host->error_new(host->ctx, QKV_ERR_INTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return host->error_new(host->ctx, QKV_ERR_INTERNAL, e.what());
  } catch (...) {
    return host->error_new(host->ctx, QKV_ERR_INTERNAL, "unknown exception");
  }
}

template <class Base, class Impl>
qkv_error* create(const qkv_host* host, const qkv_config* cfg, qkv_instance** out) noexcept {
  if (!host || !host->error_new) return nullptr;  // cannot even report: host is broken
  return guarded(host, [&] {
    Host h(host);
    auto inst = std::make_unique<Instance<Base>>();
    inst->host = host;
    inst->object = std::make_unique<Impl>(h, Config(host, cfg));
    *out = reinterpret_cast<qkv_instance*>(inst.release());
  });
}

template <class Base>
void destroy(qkv_instance* p) noexcept {
  delete self<Base>(p);  // the one owner of the Instance made in create()
}

// ---- tokenizer
inline qkv_error* tok_encode(qkv_instance* p, const char* text, size_t size,
                             const qkv_encode_options* o, const qkv_token_sink* sink) noexcept {
  auto* s = self<Tokenizer>(p);
  return guarded(s->host, [&] {
    auto opts = EncodeOptions::from(o);
    TokenSink out(sink, opts.offsets);
    s->object->encode(std::string_view(text, size), opts, out);
    out.flush();
  });
}
inline qkv_error* tok_decode(qkv_instance* p, const int32_t* ids, size_t n,
                             const qkv_byte_sink* sink) noexcept {
  auto* s = self<Tokenizer>(p);
  return guarded(s->host, [&] {
    ByteSink out(sink);
    s->object->decode(std::span<const int32_t>(ids, n), out);
  });
}
inline qkv_error* tok_info(qkv_instance* p, qkv_tokenizer_info* out) noexcept {
  auto* s = self<Tokenizer>(p);
  return guarded(s->host, [&] {
    *out = s->object->info();
    out->struct_size = sizeof *out;
  });
}
inline int32_t tok_token_to_id(qkv_instance* p, const char* token, size_t size) noexcept {
  try {
    return self<Tokenizer>(p)->object->token_to_id(std::string_view(token, size));
  } catch (...) {
    return -1;
  }
}

// ---- positional
inline qkv_error* pos_info(qkv_instance* p, qkv_positional_info* out) noexcept {
  auto* s = self<Positional>(p);
  return guarded(s->host, [&] {
    *out = s->object->info();
    out->struct_size = sizeof *out;
  });
}
inline qkv_error* pos_add(qkv_instance* p, float* x, size_t n, uint32_t dim, size_t row_stride,
                          const int32_t* positions) noexcept {
  auto* s = self<Positional>(p);
  return guarded(s->host, [&] {
    s->object->add(x, n, dim, row_stride, std::span<const int32_t>(positions, n));
  });
}
inline qkv_error* pos_rotate(qkv_instance* p, float* x, size_t n, uint32_t heads, uint32_t head_dim,
                             size_t row_stride, const int32_t* positions) noexcept {
  auto* s = self<Positional>(p);
  return guarded(s->host, [&] {
    s->object->rotate(x, n, heads, head_dim, row_stride, std::span<const int32_t>(positions, n));
  });
}

// ---- attention
inline qkv_error* att_forward(qkv_instance* p, const qkv_attention_args* args) noexcept {
  auto* s = self<Attention>(p);
  return guarded(s->host, [&] {
    // A 1.0 caller passes the 1.0 struct: the plugin reads the appended fields only when
    // struct_size covers them (attention_geometry does).
    if (!args || args->struct_size < kAttentionArgsV1_0)
      throw Error(QKV_ERR_INVALID_ARGUMENT, "qkv_attention_args too small");
    s->object->forward(*args);
  });
}

template <class Base>
const void* api_table() noexcept {
  if constexpr (std::is_same_v<Base, Tokenizer>) {
    static const qkv_tokenizer_api api{sizeof(qkv_tokenizer_api), tok_encode, tok_decode, tok_info,
                                       tok_token_to_id};
    return &api;
  } else if constexpr (std::is_same_v<Base, Positional>) {
    static const qkv_positional_api api{sizeof(qkv_positional_api), pos_info, pos_add, pos_rotate};
    return &api;
  } else {
    static const qkv_attention_api api{sizeof(qkv_attention_api), att_forward};
    return &api;
  }
}

// Impl's declared config keys (`static constexpr qkv_config_key config_keys[]`, or an empty
// std::array for "no keys at all"), if any; NULL when it declares none.
template <class Impl>
const qkv_config_key* declared_keys() noexcept {
  if constexpr (requires { std::size(Impl::config_keys); }) {
    static const qkv_config_key no_keys{};  // non-NULL: "declared, and empty"
    return std::size(Impl::config_keys) ? std::data(Impl::config_keys) : &no_keys;
  } else {
    return nullptr;
  }
}
template <class Impl>
constexpr size_t declared_key_count() noexcept {
  if constexpr (requires { std::size(Impl::config_keys); })
    return std::size(Impl::config_keys);
  else
    return 0;
}

template <class Base, class Impl>
const qkv_plugin_descriptor* descriptor(const char* name, const char* version,
                                        const char* description, uint32_t flags) noexcept {
  static const qkv_plugin_descriptor d{sizeof(qkv_plugin_descriptor),
                                       QKV_ABI_MAJOR,
                                       QKV_ABI_MINOR,
                                       Base::kind,
                                       flags,
                                       name,
                                       version,
                                       description,
                                       create<Base, Impl>,
                                       destroy<Base>,
                                       api_table<Base>(),
                                       declared_keys<Impl>(),
                                       declared_key_count<Impl>()};
  return &d;
}

}  // namespace detail
}  // namespace qkv::sdk

// Exports class Impl (deriving from Base) as this library's plugin.
#define QKV_PLUGIN_FLAGS(Base, Impl, name, version, description, flags)                   \
  extern "C" QKV_EXPORT const qkv_plugin_descriptor* qkv_plugin_entry(void) {             \
    return ::qkv::sdk::detail::descriptor<Base, Impl>(name, version, description, flags); \
  }
#define QKV_PLUGIN(Base, Impl, name, version, description) \
  QKV_PLUGIN_FLAGS(Base, Impl, name, version, description, 0u)

#endif  // QKV_PLUGIN_HPP
