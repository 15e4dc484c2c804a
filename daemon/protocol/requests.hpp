// The protocol's requests, one type per op, with their wire form both ways: qkvctl builds
// them and writes them with to_json; the server reads a request line into them with
// parse_request, which never throws and never crashes, whatever the bytes (fuzzed by
// tests/fuzz/protocol). Field names, defaults and ranges are docs/protocol.md's.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "protocol/job_fields.hpp"
#include "protocol/job_state.hpp"
#include "protocol/ops.hpp"

namespace qkv::protocol {

using json = nlohmann::json;

// Stores a file job durably and queues it.
struct SubmitRequest {
  static constexpr Op op = Op::submit;
  JobFields job;  // inputs, output, pipeline, set, decode, threads
  // Idempotent submit: a retry with the same (submitter, request_id) and the same body gets the
  // first job back instead of a second one; another body with it gets bad_request.
  std::optional<std::string> request_id;
  // Where the job goes: "local" (this qkvd's spool, the default) or "redis" (the stream of its
  // Redis source, docs/scale-out.md).
  std::optional<std::string> queue;
  // Sharded job: the inputs cut into this many contiguous runs of documents, each a job of its
  // own writing OUT-%05d-of-%05d.<ext> (docs/scale-out.md "Sharded jobs"). 1..99999.
  std::optional<unsigned> shards;
  bool operator==(const SubmitRequest&) const = default;
};

struct StatusRequest {
  static constexpr Op op = Op::status;
  std::string id;
  bool operator==(const StatusRequest&) const = default;
};

// Progress events (at most one per interval, only on change), then the end.
struct WaitRequest {
  static constexpr Op op = Op::wait;
  static constexpr unsigned kDefaultIntervalMs = 250, kMinIntervalMs = 10, kMaxIntervalMs = 60000;
  std::string id;
  unsigned interval_ms = kDefaultIntervalMs;
  bool operator==(const WaitRequest&) const = default;
};

struct CancelRequest {
  static constexpr Op op = Op::cancel;
  std::string id;
  bool operator==(const CancelRequest&) const = default;
};

struct ListRequest {
  static constexpr Op op = Op::list;
  static constexpr std::size_t kDefaultLimit = 100, kMaxLimit = 100000;
  std::optional<JobState> state;  // only jobs in this state
  std::size_t limit = kDefaultLimit;
  bool operator==(const ListRequest&) const = default;
};

struct StatsRequest {
  static constexpr Op op = Op::stats;
  bool operator==(const StatsRequest&) const = default;
};

struct ReloadRequest {
  static constexpr Op op = Op::reload;
  bool operator==(const ReloadRequest&) const = default;
};

struct HealthRequest {
  static constexpr Op op = Op::health;
  bool operator==(const HealthRequest&) const = default;
};

// Small inline jobs, answered directly (not spooled).
struct RunRequest {
  static constexpr Op op = Op::run;
  JobFields job;  // texts, pipeline, set, decode
  bool operator==(const RunRequest&) const = default;
};

// What the running daemon loaded at its last start or reload (not what is on disk now).
struct PluginsRequest {
  static constexpr Op op = Op::plugins;
  bool operator==(const PluginsRequest&) const = default;
};

struct PipelinesRequest {
  static constexpr Op op = Op::pipelines;
  bool operator==(const PipelinesRequest&) const = default;
};

// Proves who a TCP client is: a token from the daemon's tcp.tokens_file.
struct AuthRequest {
  static constexpr Op op = Op::auth;
  std::string token;
  bool operator==(const AuthRequest&) const = default;
};

// One alternative per op, in the order of Op (checked in requests.cpp).
using RequestBody = std::variant<SubmitRequest, StatusRequest, WaitRequest, CancelRequest,
                                 ListRequest, StatsRequest, ReloadRequest, HealthRequest,
                                 RunRequest, PluginsRequest, PipelinesRequest, AuthRequest>;
Op op_of(const RequestBody& body) noexcept;

// Wire form of each request, `op` included (nlohmann's to_json convention).
void to_json(json& j, const SubmitRequest& r);
void to_json(json& j, const StatusRequest& r);
void to_json(json& j, const WaitRequest& r);
void to_json(json& j, const CancelRequest& r);
void to_json(json& j, const ListRequest& r);
void to_json(json& j, const StatsRequest& r);
void to_json(json& j, const ReloadRequest& r);
void to_json(json& j, const HealthRequest& r);
void to_json(json& j, const RunRequest& r);
void to_json(json& j, const PluginsRequest& r);
void to_json(json& j, const PipelinesRequest& r);
void to_json(json& j, const AuthRequest& r);
// The request object of any op; `tag` (a string or number) is added unless null.
json request_object(const RequestBody& body, const json& tag = nullptr);

struct ProtocolLimits {
  std::size_t max_inline_texts = 1024;
  std::size_t max_depth = 32;  // JSON nesting
};

// A parsed request line: the typed request plus what travels around it.
struct Request {
  RequestBody body;
  json tag;     // echoed back in every reply to this request (null: none)
  json object;  // the request object as received (submit keeps it as the job file)
  Op op() const noexcept { return op_of(body); }
};

// A request line that cannot be served: a documented code, a message naming the field.
struct ProtocolError {
  std::string code;
  std::string message;
  json tag;
};

std::variant<Request, ProtocolError> parse_request(std::string_view line,
                                                   const ProtocolLimits& limits);

}  // namespace qkv::protocol
