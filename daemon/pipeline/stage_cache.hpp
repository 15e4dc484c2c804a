// The one cache of what jobs share: tokenizer plugin instances and model stages, each made once
// per key. The daemon keeps one per reload generation (dropped with it, so new plugins and
// changed files are picked up by a reload); `qkvd run` needs none. Entries are shared_ptrs:
// one a job holds lives until the job ends whatever the cache does. Over max_bytes
// (limits.cache_bytes), the least recently used entries no job holds are dropped.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "config/pipeline_config.hpp"
#include "pipeline/model_stage.hpp"

namespace qkv::host {
class PluginInstance;
}

namespace qkv::pipeline {

class StageCache {
 public:
  // At most this many model stages stay loaded (each holds a model's weights); the least
  // recently used goes first. Running jobs keep theirs alive until they end.
  static constexpr size_t kMaxModels = 4;

  // max_bytes 0: no byte limit.
  explicit StageCache(uint64_t max_bytes = 0) : max_bytes_(max_bytes) {}

  using MakeTokenizer = std::function<std::shared_ptr<host::PluginInstance>()>;
  using MakeModel = std::function<std::unique_ptr<ModelStage>()>;

  // The instance made for `key`, making it now if there is none (one make per key at a time;
  // a make that throws leaves nothing behind, so the next job tries again).
  std::shared_ptr<host::PluginInstance> tokenizer(const std::string& key,
                                                  const MakeTokenizer& make);
  // `bytes`: what the stage holds (its weight files), for the byte limit.
  std::shared_ptr<const ModelStage> model(const std::string& key, const MakeModel& make,
                                          uint64_t bytes = 0);

  size_t tokenizers() const;
  size_t models() const;
  uint64_t bytes() const;  // of the entries held now (a tokenizer: the files it loaded)

  // Everything of a pipeline that changes the tokenizer instance / model stage it makes.
  static std::string tokenizer_key(const config::PipelineConfig& pipeline);
  static std::string model_key(const config::PipelineConfig& pipeline);

 private:
  template <class T>
  struct Slot {
    std::mutex making;         // held while making, so concurrent jobs wait for one load
    std::shared_ptr<T> value;  // written and read under mutex_
    uint64_t last_used = 0;
    uint64_t bytes = 0;
  };
  template <class T, class Make, class Measure>
  std::shared_ptr<T> get(std::map<std::string, std::shared_ptr<Slot<T>>>& slots,
                         const std::string& key, const Make& make, size_t limit,
                         const Measure& measure);
  // Drops least recently used entries no job holds (never `keep`) while over max_bytes_.
  void evict_over_bytes(const void* keep);
  uint64_t bytes_locked() const;  // mutex_ held

  mutable std::mutex mutex_;  // guards the maps and the clock, never held while making
  uint64_t clock_ = 0;
  const uint64_t max_bytes_;
  std::map<std::string, std::shared_ptr<Slot<host::PluginInstance>>> tokenizers_;
  std::map<std::string, std::shared_ptr<Slot<const ModelStage>>> models_;
};

}  // namespace qkv::pipeline
