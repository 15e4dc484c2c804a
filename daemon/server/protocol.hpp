// The socket protocol (docs/protocol.md): one JSON object per line each way. This file parses
// a request line into a Request, or a ProtocolError with a documented code. It never throws
// and never crashes, whatever the bytes (fuzzed by tests/fuzz/protocol).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "jobs/job_state.hpp"
#include "pipeline/job.hpp"

namespace qkv::server {

using json = nlohmann::json;

inline constexpr int kProtocolVersion = 1;

enum class Op { submit, status, wait, cancel, list, stats, reload, health, run };
std::string_view to_string(Op op) noexcept;

struct ProtocolLimits {
  std::size_t max_inline_texts = 1024;
  std::size_t max_depth = 32;    // JSON nesting
  std::string default_pipeline;  // for `run` without `pipeline`
};

struct Request {
  Op op = Op::health;
  json body;       // the whole request object (submit keeps it as the job file)
  json tag;        // echoed back in every reply to this request (null: none)
  std::string id;  // status, wait, cancel
  std::optional<jobs::JobState> state_filter;  // list
  std::size_t limit = 100;                     // list
  unsigned interval_ms = 250;                  // wait: at most one progress event per interval
  JobSpec run;                                 // run: the inline job
};

struct ProtocolError {
  std::string code;
  std::string message;
  json tag;
};

std::variant<Request, ProtocolError> parse_request(std::string_view line,
                                                   const ProtocolLimits& limits);

// Reply lines (with the trailing '\n').
std::string ok_line(json fields, const json& tag = nullptr);
std::string error_line(std::string_view code, std::string_view message, const json& tag = nullptr);
std::string event_line(json fields, const json& tag = nullptr);

}  // namespace qkv::server
