// A Tokenizer backed by a tokenizer plugin, created from a pipeline's `tokenizer:` section.
#pragma once

#include <cstdint>
#include <memory>

#include "config/pipeline_config.hpp"
#include "pipeline/stage_cache.hpp"
#include "pipeline/tokenizer.hpp"

namespace qkv::host {
class PluginRegistry;
}

namespace qkv::pipeline {

// Throws (PluginError, std::runtime_error) naming the pipeline file when the plugin is not
// loaded or refuses its config. With a cache, jobs whose tokenizer sections agree share the
// plugin instance (a vocabulary loads once); encode options stay per job. A file the plugin
// loads through config_path larger than `max_vocab_bytes` (0: no limit) is refused unread.
std::shared_ptr<const Tokenizer> make_plugin_tokenizer(const config::PipelineConfig& pipeline,
                                                       const host::PluginRegistry& plugins,
                                                       StageCache* cache = nullptr,
                                                       uint64_t max_vocab_bytes = 0);

// The target side of an encoder-decoder (PipelineConfig::target_tokenizer, or with
// tokenizer.from_model a Marian folder's target.spm), built as above; null when the pipeline's
// tokenizer serves both sides.
std::shared_ptr<const Tokenizer> make_plugin_target_tokenizer(
    const config::PipelineConfig& pipeline, const host::PluginRegistry& plugins,
    StageCache* cache = nullptr, uint64_t max_vocab_bytes = 0);

}  // namespace qkv::pipeline
