// Typed access to a tokenizer plugin instance. Copies share the instance; calls may come from
// many threads (a NOT_THREAD_SAFE plugin gets one instance per concurrent caller).
#pragma once

#include <utility>

#include "host/plugin_instance.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::host {

// qkv_encode_options with struct_size set.
qkv_encode_options encode_options(uint32_t flags = 0,
                                  qkv_special_policy policy = QKV_SPECIAL_DEFAULT,
                                  uint32_t max_length = 0);

class TokenizerHandle {
 public:
  // Throws PluginError(QKV_ERR_INVALID_ARGUMENT) when the instance is not a tokenizer.
  explicit TokenizerHandle(std::shared_ptr<PluginInstance> instance);

  // Appends the ids of `text` (valid UTF-8) to `ids`, and 2 offsets per id to `offsets` when
  // given (QKV_ENCODE_OFFSETS is then set for the call). No allocation beyond the vectors'
  // growth: clear() and reuse them across calls. Throws PluginError. The host enforces
  // `max_length` itself: a plugin that returns more ids has them cut to max_length (counted in
  // overlong_results(), which qkv-conformance reports as the plugin's fault).
  void encode(std::string_view text, const qkv_encode_options& options, std::vector<int32_t>& ids,
              std::vector<uint32_t>* offsets = nullptr) const;
  std::vector<int32_t> encode(std::string_view text,
                              const qkv_encode_options& options = encode_options()) const;

  // Appends the bytes `ids` stand for to `out`.
  void decode(std::span<const int32_t> ids, std::string& out) const;
  std::string decode(std::span<const int32_t> ids) const;

  const qkv_tokenizer_info& info() const noexcept { return info_; }
  int32_t token_to_id(std::string_view token) const;
  const LoadedPlugin& plugin() const noexcept { return instance_->plugin(); }
  // The files the instance loaded through config_path (its vocabulary), by config key.
  std::vector<HostServices::LoadedFile> loaded_files() const {
    return std::as_const(*instance_).services().loaded_files();
  }
  // Encode results over their max_length that the host cut (all copies of this handle).
  uint64_t overlong_results() const noexcept { return overlong_->load(); }

 private:
  std::shared_ptr<PluginInstance> instance_;
  const qkv_tokenizer_api* api_;
  qkv_tokenizer_info info_{};
  std::shared_ptr<std::atomic<uint64_t>> overlong_ = std::make_shared<std::atomic<uint64_t>>(0);
};

}  // namespace qkv::host
