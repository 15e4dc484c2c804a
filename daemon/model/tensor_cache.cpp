#include "model/tensor_cache.hpp"

#include "model/safetensors.hpp"

namespace qkv::model {

TensorCache::TensorCache(std::filesystem::path safetensors) : file_(std::move(safetensors)) {}
TensorCache::~TensorCache() = default;

std::optional<qkv_tensor_view> TensorCache::get(std::string_view name) {
  std::lock_guard lock(mutex_);
  if (!st_) st_ = std::make_unique<SafetensorsFile>(SafetensorsFile::open(file_));
  const auto* e = st_->find(name);
  if (!e || e->shape.size() > 8) return std::nullopt;
  auto& data = cache_[std::string(name)];
  if (data.empty()) data = st_->to_f32(*e);
  qkv_tensor_view v{};
  v.struct_size = sizeof v;
  v.ndim = static_cast<uint32_t>(e->shape.size());
  for (size_t i = 0; i < e->shape.size(); ++i) v.shape[i] = e->shape[i];
  v.data = data.data();
  return v;
}

host::TensorLookup TensorCache::lookup(std::shared_ptr<TensorCache> cache) {
  return [cache = std::move(cache)](std::string_view name) { return cache->get(name); };
}

}  // namespace qkv::model
