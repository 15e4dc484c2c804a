// libFuzzer target: the socket protocol's request parser (daemon/server/protocol.cpp) and
// the job fields it reads. Any bytes must give a Request or a ProtocolError with a
// documented code, never a crash, a hang or a leak; replies must stay valid JSON.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "server/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::set<std::string> codes = {"bad_json", "bad_request", "unknown_op",
                                              "unsupported_version", "too_many_texts"};
  qkv::server::ProtocolLimits limits;
  limits.max_inline_texts = 16;
  limits.default_pipeline = "tokenize-gpt2";
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto r = qkv::server::parse_request(line, limits);
  if (auto* e = std::get_if<qkv::server::ProtocolError>(&r)) {
    if (!codes.count(e->code)) __builtin_trap();
    // The error reply (which may quote the input) must itself be one valid JSON line.
    std::string reply = qkv::server::error_line(e->code, e->message, e->tag);
    if (reply.empty() || reply.back() != '\n' || reply.find('\n') != reply.size() - 1)
      __builtin_trap();
    (void)nlohmann::json::parse(reply);
  } else {
    auto& req = std::get<qkv::server::Request>(r);
    std::string reply =
        qkv::server::ok_line({{"op", std::string(qkv::server::to_string(req.op))}}, req.tag);
    (void)nlohmann::json::parse(reply);
  }
  return 0;
}
