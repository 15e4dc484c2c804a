// Request parsing (daemon/protocol/): every op's fields, and the documented error codes for
// bad input.
#include <gtest/gtest.h>

#include "protocol/replies.hpp"
#include "protocol/requests.hpp"

namespace qkv::protocol {
namespace {

ProtocolLimits limits() {
  ProtocolLimits l;
  l.max_inline_texts = 3;
  return l;
}

std::string code_of(std::string_view line) {
  auto r = parse_request(line, limits());
  if (auto* e = std::get_if<ProtocolError>(&r)) return e->code;
  return "ok";
}

TEST(Protocol, ParsesEachOp) {
  auto r = std::get<Request>(parse_request(
      R"({"op":"run","texts":["Hello world"],"set":{"tokenizer.max_length":4},"tag":"t1"})",
      limits()));
  EXPECT_EQ(r.op(), Op::run);
  auto& run = std::get<RunRequest>(r.body);
  EXPECT_EQ(run.job.pipeline, std::nullopt);  // the daemon fills in its default_pipeline
  EXPECT_EQ(run.job.texts, std::vector<std::string>{"Hello world"});
  ASSERT_EQ(run.job.set.size(), 1u);
  EXPECT_EQ(run.job.set.at("tokenizer.max_length"), "4");  // a non-string keeps its JSON text
  EXPECT_EQ(r.tag, "t1");
  r = std::get<Request>(
      parse_request(R"({"v":1,"op":"wait","id":"abc","interval_ms":50})", limits()));
  EXPECT_EQ(r.op(), Op::wait);
  EXPECT_EQ(std::get<WaitRequest>(r.body).id, "abc");
  EXPECT_EQ(std::get<WaitRequest>(r.body).interval_ms, 50u);
  r = std::get<Request>(parse_request(R"({"op":"list","state":"running","limit":5})", limits()));
  EXPECT_EQ(std::get<ListRequest>(r.body).state, JobState::running);
  EXPECT_EQ(std::get<ListRequest>(r.body).limit, 5u);
  for (auto op : {"stats", "health", "reload"})
    EXPECT_EQ(code_of(std::string(R"({"op":")") + op + "\"}"), "ok");
  // Unknown fields are ignored, and kept in the object (submit stores it as the job file).
  r = std::get<Request>(parse_request(
      R"({"op":"submit","inputs":["/a"],"output":"/b","unknown_field":1})", limits()));
  EXPECT_EQ(std::get<SubmitRequest>(r.body).job.inputs, std::vector<std::string>{"/a"});
  EXPECT_EQ(std::get<SubmitRequest>(r.body).job.output, "/b");
  EXPECT_EQ(r.object.value("unknown_field", 0), 1);
}

TEST(Protocol, ErrorCodes) {
  EXPECT_EQ(code_of(""), "bad_json");
  EXPECT_EQ(code_of("{\"op\":"), "bad_json");
  EXPECT_EQ(code_of("[1,2]"), "bad_request");
  EXPECT_EQ(code_of(std::string(64, '[') + std::string(64, ']')), "bad_json");  // too deep
  EXPECT_EQ(code_of(R"({"op":"fly"})"), "unknown_op");
  EXPECT_EQ(code_of(R"({"v":2,"op":"health"})"), "unsupported_version");
  EXPECT_EQ(code_of(R"({"v":"1","op":"health"})"), "bad_request");
  EXPECT_EQ(code_of(R"({"op":"status"})"), "bad_request");
  EXPECT_EQ(code_of(R"({"op":"status","id":""})"), "bad_request");
  EXPECT_EQ(code_of(R"({"op":"run","texts":[]})"), "bad_request");
  EXPECT_EQ(code_of(R"({"op":"run","texts":["a","b","c","d"]})"), "too_many_texts");
  EXPECT_EQ(code_of(R"({"op":"run","texts":["a"],"threads":0})"), "bad_request");
  EXPECT_EQ(code_of(R"({"op":"submit","inputs":["/a"]})"), "bad_request");
  EXPECT_EQ(code_of(R"({"op":"submit","inputs":[],"output":"/b"})"), "bad_request");
  EXPECT_EQ(code_of(R"({"op":"list","state":"sleeping"})"), "bad_request");
  EXPECT_EQ(code_of(R"({"op":"health","tag":{"a":1}})"), "bad_request");
  // Brackets inside strings do not count as nesting.
  EXPECT_EQ(code_of(R"({"op":"run","texts":[")" + std::string(100, '[') + R"("]})"), "ok");
}

TEST(Protocol, RepliesCarryVersionAndTag) {
  auto line = error_line("queue_full", "full", "t");
  EXPECT_EQ(line.back(), '\n');
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["v"], kProtocolVersion);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["tag"], "t");
  EXPECT_EQ(j["error"]["code"], "queue_full");
  j = nlohmann::json::parse(ok_line({{"id", "x"}}));
  EXPECT_EQ(j["ok"], true);
  EXPECT_FALSE(j.contains("tag"));
}

}  // namespace
}  // namespace qkv::protocol
