// `qkvd plugins`: what loaded, and what was refused and why.
#pragma once

#include "host/plugin_registry.hpp"

#include <ostream>

namespace qkv::host {

// One line per loaded plugin (kind, name, version, ABI, file, description), then one line per
// refusal (its full message).
void print_plugin_reports(std::ostream& out, const PluginRegistry& registry);

// Logs each refusal as a warning and each loaded plugin at debug level (for daemon start/reload).
void log_plugin_refusals(const PluginRegistry& registry);

}  // namespace qkv::host
