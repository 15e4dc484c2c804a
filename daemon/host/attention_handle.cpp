#include "host/attention_handle.hpp"

#include "host/call_checks.hpp"
#include "host/negotiate.hpp"
#include "host/plugin_error.hpp"

namespace qkv::host {

AttentionHandle::AttentionHandle(std::shared_ptr<PluginInstance> instance)
    : instance_(std::move(instance)) {
  if (!instance_) throw PluginError(QKV_ERR_INVALID_ARGUMENT, "no attention instance");
  if (instance_->plugin().kind != QKV_KIND_ATTENTION)
    throw PluginError(QKV_ERR_INVALID_ARGUMENT, instance_->context() + " is a " +
                                                    kind_name(instance_->plugin().kind) +
                                                    " plugin, not an attention backend");
  api_ = static_cast<const qkv_attention_api*>(instance_->api());
}

void AttentionHandle::forward(const qkv_attention_args& args) const {
  if (std::string wrong = check_attention_args(args); !wrong.empty())
    throw PluginError(QKV_ERR_INVALID_ARGUMENT, instance_->context() + ": forward: " + wrong);
  qkv_attention_args a = args;
  a.struct_size = sizeof a;
  auto lease = instance_->acquire();
  if (qkv_error* e = api_->forward(lease.get(), &a))
    throw_if_error(e, instance_->context() + ": forward");
}

}  // namespace qkv::host
