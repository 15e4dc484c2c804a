// libFuzzer target: the socket protocol's request parser (daemon/protocol/requests.cpp) and
// the job fields it reads (daemon/protocol/job_fields.cpp). Any bytes must give a Request or a
// ProtocolError with a documented code, never a crash, a hang or a leak; replies must stay valid
// JSON.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "protocol/error_codes.hpp"
#include "protocol/replies.hpp"
#include "protocol/requests.hpp"

namespace protocol = qkv::protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace code = protocol::code;
  static const std::set<std::string_view> codes = {code::bad_json, code::bad_request,
                                                   code::unknown_op, code::unsupported_version,
                                                   code::too_many_texts};
  protocol::ProtocolLimits limits;
  limits.max_inline_texts = 16;
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto r = protocol::parse_request(line, limits);
  if (auto* e = std::get_if<protocol::ProtocolError>(&r)) {
    if (!codes.count(e->code)) __builtin_trap();
    // The error reply (which may quote the input) must itself be one valid JSON line.
    std::string reply = protocol::error_line(e->code, e->message, e->tag);
    if (reply.empty() || reply.back() != '\n' || reply.find('\n') != reply.size() - 1)
      __builtin_trap();
    (void)nlohmann::json::parse(reply);
  } else {
    auto& req = std::get<protocol::Request>(r);
    std::string reply = protocol::ok_line({{"op", std::string(to_string(req.op()))}}, req.tag);
    (void)nlohmann::json::parse(reply);
    // What parsed is what its wire form parses back to (the form qkvctl sends).
    auto again =
        protocol::parse_request(protocol::request_object(req.body, req.tag).dump(), limits);
    auto* back = std::get_if<protocol::Request>(&again);
    if (!back || !(back->body == req.body)) __builtin_trap();
  }
  return 0;
}
