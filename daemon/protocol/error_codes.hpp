// The error codes of the socket protocol (docs/protocol.md, "Error codes"), each spelled here
// once. Scripts match on them, qkvctl maps them to exit codes, job reports carry them.
#pragma once

#include <array>
#include <string_view>

namespace qkv::protocol::code {

// Requests and connections.
inline constexpr std::string_view bad_json = "bad_json";
inline constexpr std::string_view bad_request = "bad_request";
inline constexpr std::string_view unknown_op = "unknown_op";
inline constexpr std::string_view unsupported_version = "unsupported_version";
inline constexpr std::string_view request_too_large = "request_too_large";
inline constexpr std::string_view idle_timeout = "idle_timeout";
inline constexpr std::string_view too_many_connections = "too_many_connections";
inline constexpr std::string_view too_many_texts = "too_many_texts";
// Who may do what.
inline constexpr std::string_view unauthenticated = "unauthenticated";
inline constexpr std::string_view permission_denied = "permission_denied";
// Admission.
inline constexpr std::string_view queue_full = "queue_full";
inline constexpr std::string_view shutting_down = "shutting_down";
// The Redis queue (sources.redis, docs/scale-out.md) cannot be reached; nothing was queued.
inline constexpr std::string_view queue_unavailable = "queue_unavailable";
inline constexpr std::string_view not_found = "not_found";
inline constexpr std::string_view path_denied = "path_denied";
inline constexpr std::string_view output_exists = "output_exists";  // output.overwrite: false
inline constexpr std::string_view input_too_large = "input_too_large";
// Running jobs.
inline constexpr std::string_view pipeline_error = "pipeline_error";
inline constexpr std::string_view plugin_error = "plugin_error";
inline constexpr std::string_view job_failed = "job_failed";
inline constexpr std::string_view timeout = "timeout";
inline constexpr std::string_view cancelled = "cancelled";
inline constexpr std::string_view suspect = "suspect";
// Another worker took the job's Redis entry over (this worker stopped; that one records the end).
inline constexpr std::string_view lease_lost = "lease_lost";
// The daemon.
inline constexpr std::string_view reload_failed = "reload_failed";
inline constexpr std::string_view internal = "internal";

// Every code above, in the order of the table in docs/protocol.md.
inline constexpr std::array all = {bad_json,
                                   bad_request,
                                   unknown_op,
                                   unsupported_version,
                                   request_too_large,
                                   idle_timeout,
                                   too_many_connections,
                                   too_many_texts,
                                   unauthenticated,
                                   permission_denied,
                                   queue_full,
                                   shutting_down,
                                   queue_unavailable,
                                   not_found,
                                   path_denied,
                                   output_exists,
                                   input_too_large,
                                   pipeline_error,
                                   plugin_error,
                                   job_failed,
                                   timeout,
                                   cancelled,
                                   suspect,
                                   lease_lost,
                                   reload_failed,
                                   internal};

}  // namespace qkv::protocol::code
