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
  // from_model: the files are named through the folder's pinned fd, whose number another job
  // may reuse for another folder; the folder's checked path tells them apart.
  if (p.tokenizer.from_model && p.model) append(key, p.model->path.string());
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
  // Pooled vectors are finished inside the stage: jobs asking for another width or
  // normalization need their own.
  append(key, m.normalize ? (*m.normalize ? "normalize" : "no-normalize") : "folder-normalize");
  append(key, std::to_string(m.dimensions));
  append(key, m.attention);
  append(key, m.positional);
  return key;
}

template <class T, class Make, class Measure>
std::shared_ptr<T> StageCache::get(std::map<std::string, std::shared_ptr<Slot<T>>>& slots,
                                   const std::string& key, const Make& make, size_t limit,
                                   const Measure& measure) {
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
  {
    std::lock_guard lock(mutex_);
    if (slot->value) return slot->value;
  }
  std::shared_ptr<T> made = make();  // not under mutex_: loads take long
  const uint64_t bytes = measure(*made);
  std::lock_guard lock(mutex_);
  slot->value = made;
  slot->bytes = bytes;
  evict_over_bytes(slot.get());
  return made;
}

void StageCache::evict_over_bytes(const void* keep) {
  if (!max_bytes_) return;
  // The oldest droppable entry of either map: held by the cache alone (use_count 1), not `keep`.
  auto oldest_in = [&](auto& slots, auto& best, uint64_t& best_used) {
    for (auto it = slots.begin(); it != slots.end(); ++it) {
      const auto& s = *it->second;
      if (&s == keep || !s.value || s.value.use_count() != 1) continue;
      if (s.last_used < best_used) best_used = s.last_used, best = it;
    }
  };
  for (uint64_t total = bytes_locked(); total > max_bytes_;) {
    auto tok = tokenizers_.end();
    auto mod = models_.end();
    uint64_t tok_used = std::numeric_limits<uint64_t>::max(), mod_used = tok_used;
    oldest_in(tokenizers_, tok, tok_used);
    oldest_in(models_, mod, mod_used);
    if (tok == tokenizers_.end() && mod == models_.end()) return;  // all in use: kept
    if (tok_used < mod_used) {
      total -= tok->second->bytes;
      tokenizers_.erase(tok);
    } else {
      total -= mod->second->bytes;
      models_.erase(mod);
    }
  }
}

uint64_t StageCache::bytes_locked() const {
  uint64_t total = 0;
  for (auto& [k, s] : tokenizers_)
    if (s->value) total += s->bytes;
  for (auto& [k, s] : models_)
    if (s->value) total += s->bytes;
  return total;
}

uint64_t StageCache::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_locked();
}

std::shared_ptr<host::PluginInstance> StageCache::tokenizer(const std::string& key,
                                                            const MakeTokenizer& make) {
  return get(tokenizers_, key, make, std::numeric_limits<size_t>::max(),
             [](host::PluginInstance& i) { return i.services().file_bytes(); });
}

std::shared_ptr<const ModelStage> StageCache::model(const std::string& key, const MakeModel& make,
                                                    uint64_t bytes) {
  return get(models_, key, make, kMaxModels, [bytes](const ModelStage&) { return bytes; });
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
