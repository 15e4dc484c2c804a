#include "host/plugin_reports.hpp"

#include "host/logger.hpp"
#include "host/negotiate.hpp"

#include <algorithm>
#include <iomanip>

namespace qkv::host {

void print_plugin_reports(std::ostream& out, const PluginRegistry& registry) {
  const auto& reports = registry.reports();
  size_t loaded = 0;
  size_t name_width = 4;
  for (const auto& r : reports) {
    if (!r.loaded) continue;
    ++loaded;
    name_width = std::max(name_width, r.name.size());
  }
  out << "loaded plugins (" << loaded << "):\n";
  for (const auto& r : reports) {
    if (!r.loaded) continue;
    const LoadedPlugin* p = registry.find(static_cast<qkv_kind>(r.kind), r.name);
    out << "  " << std::left << std::setw(11) << kind_name(r.kind) << std::setw(name_width + 2)
        << r.name << std::setw(10) << r.version << "ABI " << r.abi_major << '.' << r.abi_minor
        << "  " << r.file.string();
    if (p && !p->description.empty()) out << "  -- " << p->description;
    if (p && !p->thread_safe()) out << " [one instance per thread]";
    out << '\n';
  }
  const size_t refused = reports.size() - loaded;
  if (refused == 0) return;
  out << "refused (" << refused << "):\n";
  for (const auto& r : reports)
    if (!r.loaded) out << "  " << r.error << '\n';
}

void log_plugin_refusals(const PluginRegistry& registry) {
  for (const auto& r : registry.reports()) {
    if (r.loaded)
      log_message(QKV_LOG_DEBUG, "plugins",
                  "loaded " + kind_name(r.kind) + " '" + r.name + "' from " + r.file.string());
    else
      log_message(QKV_LOG_WARN, "plugins", "refused " + r.error);
  }
}

}  // namespace qkv::host
