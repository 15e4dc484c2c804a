// What a daemon load or reload found, for `health` (problems), `qkvctl plugins` and
// `qkvctl pipelines` (docs/protocol.md): computed once per load, never per request.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/daemon_config.hpp"
#include "host/plugin_registry.hpp"
#include "service/pipeline_job_runner.hpp"

namespace qkv::cli {

struct DaemonInventory {
  nlohmann::json plugins;             // {"loaded": [...], "refused": [...]}
  nlohmann::json pipelines;           // [{"name", "valid", ...}]
  std::vector<std::string> problems;  // one line per invalid pipeline or refused plugin
};

// Validates every pipeline of cfg.pipelines_dir against `runner` (what a job naming it would
// be checked with) and the registry (its tokenizer plugin must have loaded).
DaemonInventory take_inventory(const config::DaemonConfig& cfg,
                               const host::PluginRegistry& registry,
                               service::PipelineJobRunner& runner);

}  // namespace qkv::cli
