// The paths a daemon client put into a pipeline (issue 10 item 2): every path-valued value it
// gave (a `set` override, or any value of a pipeline named by path) must resolve inside
// roots.models or roots.input, as io/path_policy.hpp decides. Typed paths (model.path) are known
// here; a plugin's value is a path when the plugin declares its key with QKV_CONFIG_KEY_PATH
// (host/config_keys.hpp). Each checked value is replaced by its resolved path and marked; the
// host's config_path (host/host_services.cpp) hands a plugin no other client value as a path.
#pragma once

#include "config/pipeline_config.hpp"
#include "io/path_policy.hpp"

namespace qkv::host {
class PluginRegistry;
}

namespace qkv::pipeline {

// Throws io::PathError (path_denied, not_found, bad_request) naming the key.
void check_client_paths(config::PipelineConfig& pipeline, const io::PathPolicy& policy,
                        const host::PluginRegistry* plugins);

// Every symlink in the model folder `folder` pins (two levels deep: sentence-transformers keep
// 1_Pooling/config.json) must lead into the asset roots; `shown` is the folder's checked path,
// for messages. Called by check_client_paths right after the pin.
void check_model_folder_links(const io::UniqueFd& folder, const std::filesystem::path& shown,
                              const io::PathPolicy& policy);

}  // namespace qkv::pipeline
