// Typed access to an attention plugin instance.
#pragma once

#include "host/plugin_instance.hpp"

namespace qkv::host {

class AttentionHandle {
 public:
  explicit AttentionHandle(std::shared_ptr<PluginInstance> instance);

  // One packed varlen batch (see qkv_attention_args); struct_size is set here. Throws
  // PluginError.
  void forward(const qkv_attention_args& args) const;
  const LoadedPlugin& plugin() const noexcept { return instance_->plugin(); }

 private:
  std::shared_ptr<PluginInstance> instance_;
  const qkv_attention_api* api_;
};

}  // namespace qkv::host
