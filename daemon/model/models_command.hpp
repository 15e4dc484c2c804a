// `qkvd models inspect DIR [--json]`: what qkv would load from a model directory
// (daemon/model/inspect.hpp). Registered by daemon/main/qkvd.cpp.
#pragma once

#include <CLI/CLI.hpp>

namespace qkv::model {

// `exit_code` receives the subcommand's status (0: would load, 1: would be refused).
void register_models_command(CLI::App& app, int& exit_code);

}  // namespace qkv::model
