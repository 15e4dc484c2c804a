// The protocol's reply lines (docs/protocol.md, "Envelope"): every line carries `v` and the
// request's `tag`; a final line carries `ok`, and `error` {code, message} when it is false;
// `wait` sends `progress` events before its `end`. Each ends in '\n'; invalid UTF-8 in a
// field is replaced, so a line is always valid JSON.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace qkv::protocol {

// Values of a reply line's `event` field.
namespace event {
inline constexpr std::string_view progress = "progress";
inline constexpr std::string_view end = "end";
}  // namespace event

// A final success line: `fields` plus the envelope.
std::string ok_line(nlohmann::json fields, const nlohmann::json& tag = nullptr);
// A final error line; `code` is one of protocol/error_codes.hpp.
std::string error_line(std::string_view code, std::string_view message,
                       const nlohmann::json& tag = nullptr);
// An intermediate line (wait's progress): `fields` plus `v` and `tag`, no `ok`.
std::string event_line(nlohmann::json fields, const nlohmann::json& tag = nullptr);

// Reading a reply (clients): whether it succeeded, and its error's code and message.
bool reply_ok(const nlohmann::json& reply);
std::string reply_error_code(const nlohmann::json& reply);
std::string reply_error_message(const nlohmann::json& reply);

}  // namespace qkv::protocol
