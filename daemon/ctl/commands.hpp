// qkvctl's commands, one function each, over ctl::Client.
#pragma once

#include <string>

#include "ctl/options.hpp"

namespace qkv::ctl {

// The socket qkvctl talks to: --socket, $QKV_SOCKET, the config's `socket`, else the default.
std::string resolve_socket(const Options& o);
// Runs one command; returns the exit code (exit_codes.hpp).
int run_command(const std::string& name, const Options& o);

}  // namespace qkv::ctl
