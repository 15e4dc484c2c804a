#include "host/tokenizer_handle.hpp"

#include "crash/call_slot.hpp"
#include "host/negotiate.hpp"
#include "host/plugin_error.hpp"

namespace qkv::host {
namespace {

struct IdTarget {
  std::vector<int32_t>* ids;
  std::vector<uint32_t>* offsets;
};

int append_ids(void* ctx, const int32_t* ids, const uint32_t* offsets, size_t n) {
  auto* t = static_cast<IdTarget*>(ctx);
  try {
    t->ids->insert(t->ids->end(), ids, ids + n);
    if (t->offsets) {
      if (offsets)
        t->offsets->insert(t->offsets->end(), offsets, offsets + 2 * n);
      else
        t->offsets->resize(t->offsets->size() + 2 * n, 0);
    }
    return 0;
  } catch (...) {
    return 1;  // out of memory: ask the plugin to stop
  }
}

int append_bytes(void* ctx, const char* bytes, size_t n) {
  try {
    static_cast<std::string*>(ctx)->append(bytes, n);
    return 0;
  } catch (...) {
    return 1;
  }
}

}  // namespace

qkv_encode_options encode_options(uint32_t flags, qkv_special_policy policy, uint32_t max_length) {
  qkv_encode_options o{};
  o.struct_size = sizeof o;
  o.flags = flags;
  o.special_policy = policy;
  o.max_length = max_length;
  return o;
}

TokenizerHandle::TokenizerHandle(std::shared_ptr<PluginInstance> instance)
    : instance_(std::move(instance)) {
  if (!instance_) throw PluginError(QKV_ERR_INVALID_ARGUMENT, "no tokenizer instance");
  if (instance_->plugin().kind != QKV_KIND_TOKENIZER)
    throw PluginError(QKV_ERR_INVALID_ARGUMENT, instance_->context() + " is a " +
                                                    kind_name(instance_->plugin().kind) +
                                                    " plugin, not a tokenizer");
  api_ = static_cast<const qkv_tokenizer_api*>(instance_->api());
  info_.struct_size = sizeof info_;
  auto lease = instance_->acquire();
  crash::CallScope call(instance_->plugin().name, "info");
  if (qkv_error* e = api_->info(lease.get(), &info_))
    throw_if_error(e, instance_->context() + ": info");
}

void TokenizerHandle::encode(std::string_view text, const qkv_encode_options& options,
                             std::vector<int32_t>& ids, std::vector<uint32_t>* offsets) const {
  qkv_encode_options o = options;
  o.struct_size = sizeof o;
  if (offsets) o.flags |= QKV_ENCODE_OFFSETS;
  IdTarget target{&ids, offsets};
  qkv_token_sink sink{sizeof(qkv_token_sink), &target, append_ids};
  const size_t before = ids.size();
  const size_t before_offsets = offsets ? offsets->size() : 0;
  auto lease = instance_->acquire();
  crash::CallScope call(instance_->plugin().name, "encode");
  qkv_error* e = api_->encode(lease.get(), text.data(), text.size(), &o, &sink);
  if (e) {
    ids.resize(before);  // no partial results on failure
    if (offsets) offsets->resize(before_offsets);
    throw_if_error(e, instance_->context() + ": encode");
  }
  // Truncation is a promise to the output (a model's position table, a fixed-size batch):
  // kept even when a plugin ignores it.
  if (o.max_length && ids.size() - before > o.max_length) {
    ++*overlong_;
    ids.resize(before + o.max_length);
    if (offsets && offsets->size() > before_offsets + 2 * std::size_t(o.max_length))
      offsets->resize(before_offsets + 2 * std::size_t(o.max_length));
  }
}

std::vector<int32_t> TokenizerHandle::encode(std::string_view text,
                                             const qkv_encode_options& options) const {
  std::vector<int32_t> ids;
  encode(text, options, ids);
  return ids;
}

void TokenizerHandle::decode(std::span<const int32_t> ids, std::string& out) const {
  qkv_byte_sink sink{sizeof(qkv_byte_sink), &out, append_bytes};
  auto lease = instance_->acquire();
  crash::CallScope call(instance_->plugin().name, "decode");
  if (qkv_error* e = api_->decode(lease.get(), ids.data(), ids.size(), &sink))
    throw_if_error(e, instance_->context() + ": decode");
}

std::string TokenizerHandle::decode(std::span<const int32_t> ids) const {
  std::string out;
  decode(ids, out);
  return out;
}

int32_t TokenizerHandle::token_to_id(std::string_view token) const {
  auto lease = instance_->acquire();
  crash::CallScope call(instance_->plugin().name, "token_to_id");
  return api_->token_to_id(lease.get(), token.data(), token.size());
}

}  // namespace qkv::host
