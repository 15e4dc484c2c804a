#include "host/negotiate.hpp"

#include <cstddef>

namespace qkv::host {
namespace {

// What every descriptor has at offset 0, whatever its version: struct_size, abi_major, abi_minor.
constexpr size_t kHeaderSize = offsetof(qkv_plugin_descriptor, kind);

// Sizes of the v1.0 structs, fixed by their last v1.0 field so appended fields don't move them.
template <class T>
constexpr size_t end_of(size_t offset) {
  return offset + sizeof(T);
}
constexpr size_t kDescriptorV1 = end_of<const void*>(offsetof(qkv_plugin_descriptor, api));
constexpr size_t kTokenizerV1 = end_of<void*>(offsetof(qkv_tokenizer_api, token_to_id));
constexpr size_t kPositionalV1 = end_of<void*>(offsetof(qkv_positional_api, rotate));
constexpr size_t kAttentionV1 = end_of<void*>(offsetof(qkv_attention_api, forward));

std::string host_version() {
  return std::to_string(QKV_ABI_MAJOR) + "." + std::to_string(QKV_ABI_MINOR);
}

std::string plugin_version(const qkv_plugin_descriptor* d) {
  return std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor);
}

// Function pointers of a v1.0 kind table that must not be null, as (name, set?) pairs.
std::optional<std::string> null_function(uint32_t kind, const void* api) {
  switch (kind) {
    case QKV_KIND_TOKENIZER: {
      auto* t = static_cast<const qkv_tokenizer_api*>(api);
      if (!t->encode) return "encode";
      if (!t->decode) return "decode";
      if (!t->info) return "info";
      if (!t->token_to_id) return "token_to_id";
      return std::nullopt;
    }
    case QKV_KIND_POSITIONAL: {
      auto* p = static_cast<const qkv_positional_api*>(api);
      if (!p->info) return "info";
      if (!p->add) return "add";
      if (!p->rotate) return "rotate";
      return std::nullopt;
    }
    case QKV_KIND_ATTENTION: {
      auto* a = static_cast<const qkv_attention_api*>(api);
      if (!a->forward) return "forward";
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string kind_name(uint32_t kind) {
  switch (kind) {
    case QKV_KIND_TOKENIZER:
      return "tokenizer";
    case QKV_KIND_POSITIONAL:
      return "positional";
    case QKV_KIND_ATTENTION:
      return "attention";
  }
  return "unknown kind " + std::to_string(kind);
}

size_t kind_table_min_size(uint32_t kind) noexcept {
  switch (kind) {
    case QKV_KIND_TOKENIZER:
      return kTokenizerV1;
    case QKV_KIND_POSITIONAL:
      return kPositionalV1;
    case QKV_KIND_ATTENTION:
      return kAttentionV1;
  }
  return 0;
}

std::optional<std::string> check_descriptor(const qkv_plugin_descriptor* d) {
  const std::string rebuild = "rebuild the plugin against the qkv SDK " + host_version();
  if (!d) return "qkv_plugin_entry returned no descriptor (NULL); " + rebuild;
  if (d->struct_size < kHeaderSize)
    return "bad descriptor struct_size " + std::to_string(d->struct_size) + " (at least " +
           std::to_string(kDescriptorV1) + " expected); " + rebuild;
  if (d->abi_major != QKV_ABI_MAJOR)
    return "built for ABI " + plugin_version(d) + ", this host speaks ABI " + host_version() +
           " (major versions must match); " + rebuild;
  if (d->abi_minor > QKV_ABI_MINOR)
    return "built for ABI " + plugin_version(d) + ", newer than this host's ABI " + host_version() +
           "; upgrade qkv, or " + rebuild;
  if (d->struct_size < kDescriptorV1)
    return "bad descriptor struct_size " + std::to_string(d->struct_size) + " (ABI " +
           plugin_version(d) + " needs at least " + std::to_string(kDescriptorV1) +
           "); the plugin was built with mismatched headers: " + rebuild;
  const size_t table_size = kind_table_min_size(d->kind);
  if (table_size == 0)
    return "unknown plugin kind " + std::to_string(d->kind) +
           " (this host knows 1 = tokenizer, 2 = positional, 3 = attention); " + rebuild;
  const std::string kind = kind_name(d->kind);
  auto null_field = [&](const char* field) {
    return std::string("descriptor field '") + field +
           "' is NULL; set it (the QKV_PLUGIN macro does)";
  };
  if (!d->name) return null_field("name");
  if (!*d->name) return std::string("descriptor field 'name' is empty; give the plugin a name");
  if (!d->version) return null_field("version");
  if (!d->create) return null_field("create");
  if (!d->destroy) return null_field("destroy");
  if (!d->api) return null_field("api");
  const uint32_t api_size = *static_cast<const uint32_t*>(d->api);
  if (api_size < table_size)
    return "bad " + kind + " table struct_size " + std::to_string(api_size) + " (ABI " +
           plugin_version(d) + " needs at least " + std::to_string(table_size) +
           "); the plugin was built with mismatched headers: " + rebuild;
  if (auto fn = null_function(d->kind, d->api))
    return kind + " table function '" + *fn + "' is NULL; implement it";
  return std::nullopt;
}

}  // namespace qkv::host
