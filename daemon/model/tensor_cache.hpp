// Model tensors served to plugins by checkpoint name (the host's TensorLookup, e.g. the learned
// position table positional-learned reads), converted to f32 on first use and kept for the
// cache's life, so views handed out stay valid as long as the plugin instances that hold them.
#pragma once

#include <qkv/abi.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "host/host_services.hpp"

namespace qkv::model {

class SafetensorsFile;

class TensorCache {
 public:
  explicit TensorCache(std::filesystem::path safetensors);
  ~TensorCache();

  // nullopt: no such tensor (or more than 8 dimensions). Thread-safe.
  std::optional<qkv_tensor_view> get(std::string_view name);

  // A lookup for host::create_instance that keeps `cache` alive.
  static host::TensorLookup lookup(std::shared_ptr<TensorCache> cache);

 private:
  std::filesystem::path file_;
  std::mutex mutex_;
  std::unique_ptr<SafetensorsFile> st_;  // opened on first use
  std::map<std::string, std::vector<float>, std::less<>> cache_;
};

}  // namespace qkv::model
