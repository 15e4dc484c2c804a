// `qkvd --config FILE [--set key=value ...]` with no subcommand: serve the socket and spool.
#pragma once

#include "cli/cli_context.hpp"

namespace qkv::cli {

void register_serve(CLI::App& app, CliContext& ctx);

}  // namespace qkv::cli
