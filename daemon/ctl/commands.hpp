// qkvctl's commands, one function each, over ctl::Client.
#pragma once

#include <string>
#include <vector>

namespace qkv::ctl {

struct Options {
  std::string socket, config;
  bool json = false, tty = false;
  std::vector<std::string> inputs, texts, sets;
  std::string output, pipeline, id, state;
  unsigned threads = 0;
  unsigned limit = 0;
  bool decode = false, wait = false, no_wait = false;
};

// The socket qkvctl talks to: --socket, $QKV_SOCKET, the config's `socket`, else the default.
std::string resolve_socket(const Options& o);
// Runs one command; returns the exit code (exit_codes.hpp).
int run_command(const std::string& name, const Options& o);

}  // namespace qkv::ctl
