#include "host/positional_handle.hpp"

#include "crash/call_slot.hpp"
#include "host/call_checks.hpp"
#include "host/negotiate.hpp"
#include "host/plugin_error.hpp"

namespace qkv::host {

PositionalHandle::PositionalHandle(std::shared_ptr<PluginInstance> instance)
    : instance_(std::move(instance)) {
  if (!instance_) throw PluginError(QKV_ERR_INVALID_ARGUMENT, "no positional instance");
  if (instance_->plugin().kind != QKV_KIND_POSITIONAL)
    throw PluginError(QKV_ERR_INVALID_ARGUMENT, instance_->context() + " is a " +
                                                    kind_name(instance_->plugin().kind) +
                                                    " plugin, not a positional encoding");
  api_ = static_cast<const qkv_positional_api*>(instance_->api());
  info_.struct_size = sizeof info_;
  auto lease = instance_->acquire();
  crash::CallScope call(instance_->plugin().name, "info");
  if (qkv_error* e = api_->info(lease.get(), &info_))
    throw_if_error(e, instance_->context() + ": info");
}

void PositionalHandle::add(float* x, uint32_t dim, size_t row_stride,
                           std::span<const int32_t> positions) const {
  if (std::string wrong = check_positional_args(x, row_stride, dim, positions); !wrong.empty())
    throw PluginError(QKV_ERR_INVALID_ARGUMENT, instance_->context() + ": add: " + wrong);
  auto lease = instance_->acquire();
  crash::CallScope call(instance_->plugin().name, "add");
  if (qkv_error* e = api_->add(lease.get(), x, positions.size(), dim, row_stride, positions.data()))
    throw_if_error(e, instance_->context() + ": add");
}

void PositionalHandle::rotate(float* x, uint32_t heads, uint32_t head_dim, size_t row_stride,
                              std::span<const int32_t> positions) const {
  const size_t width = size_t(heads) * head_dim;
  if (std::string wrong = check_positional_args(x, row_stride, width, positions); !wrong.empty())
    throw PluginError(QKV_ERR_INVALID_ARGUMENT, instance_->context() + ": rotate: " + wrong);
  auto lease = instance_->acquire();
  crash::CallScope call(instance_->plugin().name, "rotate");
  if (qkv_error* e = api_->rotate(lease.get(), x, positions.size(), heads, head_dim, row_stride,
                                  positions.data()))
    throw_if_error(e, instance_->context() + ": rotate");
}

}  // namespace qkv::host
