// A Tokenizer backed by a tokenizer plugin, created from a pipeline's `tokenizer:` section.
#pragma once

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
// plugin instance (a vocabulary loads once); encode options stay per job.
std::shared_ptr<const Tokenizer> make_plugin_tokenizer(const config::PipelineConfig& pipeline,
                                                       const host::PluginRegistry& plugins,
                                                       StageCache* cache = nullptr);

}  // namespace qkv::pipeline
