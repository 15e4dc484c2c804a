// qkvctl's command line, as parsed by qkvctl.cpp: what the commands and the requests they
// build (ctl/requests.hpp) read.
#pragma once

#include <string>
#include <vector>

namespace qkv::ctl {

struct Options {
  std::string socket, config;
  bool json = false, tty = false;
  std::vector<std::string> inputs, texts, sets;
  std::string output, pipeline, id, state;
  std::string request_id;  // submit: makes a retried submit idempotent
  std::string queue;       // submit: "local" or "redis" (docs/scale-out.md)
  unsigned shards = 0;     // submit: 0 = not sharded
  unsigned threads = 0;
  unsigned limit = 0;
  bool decode = false, wait = false, no_wait = false;
  bool text_only = false;  // run: print only the "text" of each result (generation pipelines)
};

}  // namespace qkv::ctl
