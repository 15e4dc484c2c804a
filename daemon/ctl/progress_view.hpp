// How qkvctl shows a job's progress: a redrawn bar on a terminal, occasional plain lines
// otherwise (logs, pipes), nothing in --json mode (events are printed as they come).
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "io/human_bytes.hpp"

#include <nlohmann/json.hpp>

namespace qkv::ctl {

class ProgressView {
 public:
  // `tty`: draw a bar on `out` (stderr) in place; else plain lines, at most one per `every`.
  ProgressView(std::FILE* out, bool tty, std::chrono::seconds every = std::chrono::seconds(5));
  void update(const nlohmann::json& event);  // a "progress" event
  void finish();                             // ends the bar's line

 private:
  std::FILE* out_;
  bool tty_;
  std::chrono::seconds every_;
  std::chrono::steady_clock::time_point last_{};
  bool drawn_ = false;
};

using io::human_bytes;  // daemon/io/human_bytes.hpp

}  // namespace qkv::ctl
