// qkvctl and qkvd speak through the same types: every request qkvctl builds from its command
// line (daemon/ctl/requests.cpp), written as it sends it, parses on the server side
// (daemon/protocol/requests.cpp) into the same values; and the error codes spelled in
// protocol/error_codes.hpp are exactly the ones docs/protocol.md documents.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "ctl/requests.hpp"
#include "protocol/error_codes.hpp"

namespace qkv {
namespace {

namespace fs = std::filesystem;

// What the server makes of what qkvctl sends (the bytes Client::send writes, minus '\n').
protocol::Request server_side(const protocol::RequestBody& sent) {
  std::string line = protocol::request_object(sent).dump();
  auto parsed = protocol::parse_request(line, protocol::ProtocolLimits{});
  if (auto* e = std::get_if<protocol::ProtocolError>(&parsed))
    ADD_FAILURE() << line << " -> [" << e->code << "] " << e->message;
  return std::get<protocol::Request>(parsed);
}

// One command line per case; together they cover every op and every option.
std::vector<std::pair<std::string, ctl::Options>> command_lines() {
  std::vector<std::pair<std::string, ctl::Options>> out;
  ctl::Options o;
  o.inputs = {"in/a.jsonl", "/data/*.jsonl.gz"};
  o.output = "out/ids.jsonl";
  out.emplace_back("submit", o);  // defaults: no pipeline, no set, no threads
  o.pipeline = "tokenize-gpt2";
  o.sets = {"tokenizer.max_length=8", "batch.documents=512", "tokenizer.max_length=16"};
  o.decode = true;
  o.threads = 3;
  o.request_id = "retry-key-1";
  out.emplace_back("submit", o);
  o.request_id.clear();
  o = {};
  o.inputs = {"/x.jsonl"};
  o.output = "/y.jsonl";
  o.pipeline = "pipelines/../my.yaml";  // path-like: made absolute
  out.emplace_back("submit", o);
  o = {};
  o.id = "20261126-172841-259-1d6d-0";
  for (auto c : {"status", "wait", "cancel"}) out.emplace_back(c, o);
  o = {};
  out.emplace_back("list", o);
  o.state = "running";
  o.limit = 5;
  out.emplace_back("list", o);
  o = {};
  for (auto c : {"stats", "reload", "health", "plugins", "pipelines"}) out.emplace_back(c, o);
  o.texts = {"Hello world", "", "{\"not\": \"json-in-json\"} [[[", "h\xC3\xA9llo"};
  out.emplace_back("run", o);
  o.pipeline = "wordpiece";
  o.sets = {"tokenizer.config.unk_token=[UNK]"};
  o.decode = true;
  o.texts = {"[101, 102]"};
  out.emplace_back("run", o);
  return out;
}

TEST(RequestRoundTrip, EveryQkvctlRequestParsesIntoTheSameValues) {
  std::set<protocol::Op> ops_seen;
  for (auto& [command, options] : command_lines()) {
    SCOPED_TRACE(command);
    protocol::RequestBody sent = ctl::build_request(command, options);
    EXPECT_EQ(std::string(to_string(protocol::op_of(sent))), command);
    protocol::Request got = server_side(sent);
    EXPECT_EQ(got.op(), protocol::op_of(sent));
    EXPECT_TRUE(got.body == sent) << protocol::request_object(sent).dump() << " parsed as "
                                  << protocol::request_object(got.body).dump();
    ops_seen.insert(got.op());
  }
  // `auth` is the TCP handshake; qkvctl speaks the Unix socket only, so it builds no auth.
  protocol::RequestBody auth = protocol::AuthRequest{"0123456789abcdef0123456789abcdef"};
  EXPECT_TRUE(server_side(auth).body == auth);
  ops_seen.insert(protocol::Op::auth);
  EXPECT_EQ(ops_seen.size(), protocol::kOpCount) << "a qkvctl command per op (auth aside)";
}

TEST(RequestRoundTrip, QkvctlFillsTheFieldsFromItsOptions) {
  ctl::Options o;
  o.inputs = {"in/a.jsonl"};
  o.output = "out/ids.jsonl";
  o.pipeline = "conf/p.yaml";
  o.sets = {"a.b=1", "a.b=2", "c=x=y"};
  o.threads = 2;
  auto got = server_side(ctl::build_request("submit", o));
  auto& job = std::get<protocol::SubmitRequest>(got.body).job;
  EXPECT_EQ(job.inputs, std::vector<std::string>{(fs::current_path() / "in/a.jsonl").string()});
  EXPECT_EQ(job.output, (fs::current_path() / "out/ids.jsonl").string());
  EXPECT_EQ(job.pipeline, (fs::current_path() / "conf/p.yaml").string());
  EXPECT_EQ(job.set, (std::map<std::string, std::string>{{"a.b", "2"}, {"c", "x=y"}}));
  EXPECT_EQ(job.threads, 2u);
  EXPECT_FALSE(job.decode);
  // A name is sent as given, not made a path.
  o.pipeline = "tokenize-gpt2";
  got = server_side(ctl::build_request("submit", o));
  EXPECT_EQ(std::get<protocol::SubmitRequest>(got.body).job.pipeline, "tokenize-gpt2");
}

TEST(RequestRoundTrip, BadCommandLinesAreUsageErrors) {
  ctl::Options o;
  o.texts = {"x"};
  o.sets = {"no-equals-sign"};
  EXPECT_THROW(ctl::build_request("run", o), ctl::UsageError);
  o.sets = {"=value"};
  EXPECT_THROW(ctl::build_request("run", o), ctl::UsageError);
  o = {};
  o.state = "sleeping";
  EXPECT_THROW(ctl::build_request("list", o), ctl::UsageError);
  EXPECT_THROW(ctl::build_request("fly", o), ctl::UsageError);
}

// The codes of the "Error codes" table in docs/protocol.md, in order.
std::vector<std::string> documented_codes() {
  std::ifstream in(fs::path(QKV_SOURCE_DIR) / "docs/protocol.md");
  EXPECT_TRUE(in) << "docs/protocol.md";
  std::vector<std::string> codes;
  bool in_section = false;
  const std::regex row(R"(^\| `([a-z_]+)` \|)");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("## ", 0) == 0) in_section = line == "## Error codes";
    std::smatch m;
    if (in_section && std::regex_search(line, m, row)) codes.push_back(m[1]);
  }
  return codes;
}

TEST(RequestRoundTrip, ErrorCodesAreTheDocumentedOnes) {
  std::vector<std::string> spelled(protocol::code::all.begin(), protocol::code::all.end());
  auto documented = documented_codes();
  EXPECT_GT(documented.size(), 10u);
  EXPECT_EQ(spelled, documented);
}

}  // namespace
}  // namespace qkv
