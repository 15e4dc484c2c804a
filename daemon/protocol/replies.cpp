#include "protocol/replies.hpp"

#include "protocol/ops.hpp"

namespace qkv::protocol {

using json = nlohmann::json;

namespace {
std::string line_of(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}
}  // namespace

std::string ok_line(json fields, const json& tag) {
  json j = {{"v", kProtocolVersion}, {"ok", true}};
  if (!tag.is_null()) j["tag"] = tag;
  for (auto& [k, v] : fields.items()) j[k] = std::move(v);
  return line_of(j);
}

std::string error_line(std::string_view code, std::string_view message, const json& tag) {
  json j = {{"v", kProtocolVersion},
            {"ok", false},
            {"error", {{"code", std::string(code)}, {"message", std::string(message)}}}};
  if (!tag.is_null()) j["tag"] = tag;
  return line_of(j);
}

std::string event_line(json fields, const json& tag) {
  json j = {{"v", kProtocolVersion}};
  if (!tag.is_null()) j["tag"] = tag;
  for (auto& [k, v] : fields.items()) j[k] = std::move(v);
  return line_of(j);
}

bool reply_ok(const json& reply) { return reply.is_object() && reply.value("ok", false); }

std::string reply_error_code(const json& reply) {
  if (!reply.is_object()) return "";
  return reply.value("error", json::object()).value("code", "");
}

std::string reply_error_message(const json& reply) {
  if (!reply.is_object()) return "";
  return reply.value("error", json::object()).value("message", "");
}

}  // namespace qkv::protocol
