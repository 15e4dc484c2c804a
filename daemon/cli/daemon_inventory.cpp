#include "cli/daemon_inventory.hpp"

#include "config/diagnostics.hpp"
#include "config/pipeline_config.hpp"
#include "host/negotiate.hpp"

namespace qkv::cli {

using json = nlohmann::json;

namespace {

json plugins_view(const host::PluginRegistry& registry, std::vector<std::string>& problems) {
  json loaded = json::array(), refused = json::array();
  for (const auto& r : registry.reports()) {
    if (r.loaded) {
      const host::LoadedPlugin* p = registry.find(static_cast<qkv_kind>(r.kind), r.name);
      loaded.push_back({{"kind", host::kind_name(r.kind)},
                        {"name", r.name},
                        {"version", r.version},
                        {"abi", std::to_string(r.abi_major) + "." + std::to_string(r.abi_minor)},
                        {"file", r.file.string()},
                        {"description", p ? p->description : ""}});
    } else {
      refused.push_back({{"file", r.file.string()}, {"error", r.error}});
      problems.push_back("plugin refused: " + r.error);
    }
  }
  return {{"loaded", std::move(loaded)}, {"refused", std::move(refused)}};
}

}  // namespace

DaemonInventory take_inventory(const config::DaemonConfig& cfg,
                               const host::PluginRegistry& registry,
                               service::PipelineJobRunner& runner) {
  DaemonInventory inv;
  inv.plugins = plugins_view(registry, inv.problems);
  inv.pipelines = json::array();
  for (const auto& file : config::list_pipelines(cfg.pipelines_dir)) {
    const std::string name = file.stem().string();
    json view = {{"name", name}, {"default", name == cfg.default_pipeline}};
    std::string error;
    try {
      pipeline::JobSpec spec;
      spec.pipeline = name;
      runner.validate(spec);
      auto p = config::load_pipeline_config(file);
      view["tokenizer"] = p.tokenizer.from_model ? "from_model" : p.tokenizer.plugin;
      view["model"] = p.model.has_value();
      view["format"] = p.output.format ? config::to_string(*p.output.format)
                       : p.model       ? "npy"
                                       : "by extension";
      if (!p.description.empty()) view["description"] = p.description;
      if (!p.tokenizer.from_model && !registry.find(QKV_KIND_TOKENIZER, p.tokenizer.plugin))
        error = "tokenizer plugin '" + p.tokenizer.plugin + "' is not loaded";
    } catch (const std::exception& e) {
      error = e.what();
    }
    view["valid"] = error.empty();
    if (!error.empty()) {
      view["error"] = error;
      inv.problems.push_back("pipeline '" + name + "' is invalid: " + error);
    }
    inv.pipelines.push_back(std::move(view));
  }
  return inv;
}

}  // namespace qkv::cli
