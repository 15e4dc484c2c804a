#include "host/attention_handle.hpp"

#include "crash/call_slot.hpp"
#include "host/negotiate.hpp"
#include "host/plugin_error.hpp"

#include <qkv/attention_check.hpp>

namespace qkv::host {

AttentionHandle::AttentionHandle(std::shared_ptr<PluginInstance> instance)
    : instance_(std::move(instance)) {
  if (!instance_) throw PluginError(QKV_ERR_INVALID_ARGUMENT, "no attention instance");
  if (instance_->plugin().kind != QKV_KIND_ATTENTION)
    throw PluginError(QKV_ERR_INVALID_ARGUMENT, instance_->context() + " is a " +
                                                    kind_name(instance_->plugin().kind) +
                                                    " plugin, not an attention plugin");
  api_ = static_cast<const qkv_attention_api*>(instance_->api());
}

namespace {

// What of `a` needs ABI 1.1 (empty: nothing; a 1.0 call).
std::string needs_v1_1(const qkv_attention_args& a) {
  if (a.mask == QKV_MASK_SLIDING_WINDOW) return "a sliding-window mask";
  if (a.k_seqs || a.v_seqs) return "per-sequence K/V caches (k_seqs/v_seqs)";
  return {};
}

}  // namespace

void AttentionHandle::forward(const qkv_attention_args& args) const {
  qkv_attention_args a = args;
  a.struct_size = sizeof a;
  if (std::string wrong = sdk::attention_args_error(a); !wrong.empty())
    throw PluginError(QKV_ERR_INVALID_ARGUMENT, instance_->context() + ": forward: " + wrong);
  // A plugin sees only the fields its ABI minor covers; what it could not read is refused
  // here rather than silently dropped.
  if (plugin().abi_minor < 1) {
    if (std::string wanted = needs_v1_1(a); !wanted.empty())
      throw PluginError(QKV_ERR_UNSUPPORTED, instance_->context() + ": forward: " + wanted +
                                                 " needs an attention plugin of ABI 1.1 or "
                                                 "newer; this one speaks ABI 1." +
                                                 std::to_string(plugin().abi_minor));
    a.struct_size = sdk::kAttentionArgsV1_0;
  }
  auto lease = instance_->acquire();
  crash::CallScope call(instance_->plugin().name, "forward");
  if (qkv_error* e = api_->forward(lease.get(), &a))
    throw_if_error(e, instance_->context() + ": forward");
}

}  // namespace qkv::host
