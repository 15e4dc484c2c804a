#include "pipeline/client_paths.hpp"

#include "host/config_keys.hpp"
#include "host/plugin_registry.hpp"

#include <filesystem>
#include <memory>

namespace qkv::pipeline {
namespace {

namespace fs = std::filesystem;

// Where the symlink `link` leads, read from the link itself, so that a dangling link is
// placed too: a missing target outside the roots must still read as outside (path_denied),
// or a client could probe which files exist there.
fs::path link_target(const fs::path& link) {
  std::error_code ec;
  fs::path real = fs::canonical(link, ec);
  if (!ec) return real;
  fs::path target = fs::read_symlink(link, ec);
  if (ec) return link;
  if (target.is_relative()) target = fs::canonical(link.parent_path(), ec) / target;
  return fs::weakly_canonical(target, ec);
}

}  // namespace

// Each link is followed through the pinned folder itself (/proc/self/fd/N/...), so the links
// checked are the ones the loader will read, even when the folder's path now names another
// folder. A client who can write into the folder could still swap a file after this check;
// such a folder is that client's own asset anyway (docs/service.md).
void check_model_folder_links(const io::UniqueFd& folder, const fs::path& shown,
                              const io::PathPolicy& policy) {
  const fs::path opened = "/proc/self/fd/" + std::to_string(folder.get());
  std::error_code ec;
  if (!fs::is_directory(opened, ec)) return;  // no /proc: the loader reads the checked path
  auto it = fs::recursive_directory_iterator(opened, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it.depth() >= 1) it.disable_recursion_pending();
    if (!it->is_symlink(ec)) continue;
    const fs::path rel = it->path().lexically_relative(opened);
    policy.resolve_asset(link_target(it->path()).string(), shown,
                         "model.path file '" + (shown / rel).string() + "'");
  }
}

namespace {

// The declared path keys of the plugin `ref` names: its client scalars are resolved in place.
void check_plugin(config::PluginRef& ref, qkv_kind kind, const std::string& section,
                  const config::PipelineConfig& p, const io::PathPolicy& policy,
                  const host::PluginRegistry* plugins) {
  if (ref.config.type != QKV_VALUE_MAP || !plugins) return;
  const host::LoadedPlugin* plugin = plugins->find(kind, ref.plugin);
  if (!plugin || !plugin->descriptor) return;  // unknown keys: config_path refuses them
  for (size_t i = 0; i < ref.config.keys.size(); ++i) {
    host::ConfigValue& v = ref.config.items[i];
    if (!v.from_client || v.type != QKV_VALUE_SCALAR ||
        !host::is_path_key(*plugin->descriptor, ref.config.keys[i]))
      continue;
    const std::string what = section + ".config." + ref.config.keys[i];
    v.scalar = policy.resolve_asset(v.scalar, p.dir, what);
    if (policy.restricted())
      v.pinned = std::make_shared<const io::UniqueFd>(policy.open_asset(v.scalar, false));
    v.path_checked = true;
  }
}

}  // namespace

void check_client_paths(config::PipelineConfig& p, const io::PathPolicy& policy,
                        const host::PluginRegistry* plugins) {
  check_plugin(p.tokenizer, QKV_KIND_TOKENIZER, "tokenizer", p, policy, plugins);
  if (!p.model) return;
  if (p.model->path_from_client) {
    p.model->path = policy.resolve_asset(p.model->path.string(), p.dir, "model.path");
    if (policy.restricted()) {
      p.model->pinned =
          std::make_shared<const io::UniqueFd>(policy.open_asset(p.model->path, true));
      check_model_folder_links(*p.model->pinned, p.model->path, policy);
    }
  }
  check_plugin(p.model->attention, QKV_KIND_ATTENTION, "model.attention", p, policy, plugins);
  check_plugin(p.model->positional, QKV_KIND_POSITIONAL, "model.positional", p, policy, plugins);
}

}  // namespace qkv::pipeline
