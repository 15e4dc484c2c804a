#include "pipeline/stage_cache.hpp"

#include <algorithm>
#include <limits>

#include "host/plugin_instance.hpp"

namespace qkv::pipeline {
namespace {

void append(std::string& key, const std::string& part) {
  key += std::to_string(part.size()) + ':' + part + '\n';  // length-prefixed: no imitation
}

void append(std::string& key, const config::PluginRef& ref) {
  append(key, ref.plugin);
  append(key, ref.config.fingerprint());
}

// Where plugin configs resolve paths and what their messages cite.
void append_source(std::string& key, const config::PipelineConfig& p) {
  append(key, p.file.string());
  append(key, p.dir.string());
}

}  // namespace

std::string StageCache::tokenizer_key(const config::PipelineConfig& p) {
  std::string key;
  append_source(key, p);
  append(key, p.tokenizer);  // encode options (special tokens, ...) stay per job
  return key;
}

std::string StageCache::model_key(const config::PipelineConfig& p) {
  std::string key;
  append_source(key, p);
  if (!p.model) return key;
  const auto& m = *p.model;
  append(key, m.path.string());
  append(key, config::to_string(m.output));
  append(key, std::to_string(m.topk));
  append(key, m.attention);
  append(key, m.positional);
  return key;
}

template <class T, class Make>
std::shared_ptr<T> StageCache::get(std::map<std::string, std::shared_ptr<Slot<T>>>& slots,
                                   const std::string& key, const Make& make, size_t limit) {
  std::shared_ptr<Slot<T>> slot;
  {
    std::lock_guard lock(mutex_);
    auto& s = slots[key];
    if (!s) s = std::make_shared<Slot<T>>();
    s->last_used = ++clock_;
    slot = s;
    if (slots.size() > limit) {  // evict the least recently used other slot
      auto oldest = slots.end();
      for (auto it = slots.begin(); it != slots.end(); ++it)
        if (it->second != slot &&
            (oldest == slots.end() || it->second->last_used < oldest->second->last_used))
          oldest = it;
      if (oldest != slots.end()) slots.erase(oldest);
    }
  }
  std::lock_guard making(slot->making);
  if (!slot->value) slot->value = make();
  return slot->value;
}

std::shared_ptr<host::PluginInstance> StageCache::tokenizer(const std::string& key,
                                                            const MakeTokenizer& make) {
  return get(tokenizers_, key, make, std::numeric_limits<size_t>::max());
}

std::shared_ptr<const ModelStage> StageCache::model(const std::string& key, const MakeModel& make) {
  return get(models_, key, make, kMaxModels);
}

size_t StageCache::tokenizers() const {
  std::lock_guard lock(mutex_);
  return tokenizers_.size();
}

size_t StageCache::models() const {
  std::lock_guard lock(mutex_);
  return models_.size();
}

}  // namespace qkv::pipeline
