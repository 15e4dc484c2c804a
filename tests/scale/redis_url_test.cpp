// sources.redis.url as the Redis source reads it (jobs/redis/redis_client.hpp), and the
// protocol's `queue` field (docs/protocol.md, "submit").
#include <gtest/gtest.h>

#include "jobs/redis/redis_client.hpp"
#include "protocol/requests.hpp"

namespace qkv::jobs::redis {
namespace {

TEST(RedisUrl, TcpAndUnixForms) {
  auto tcp = parse_url("redis://10.0.0.5:6380");
  EXPECT_FALSE(tcp.unix_socket);
  EXPECT_EQ(tcp.host, "10.0.0.5");
  EXPECT_EQ(tcp.port, 6380);
  EXPECT_EQ(parse_url("redis://queue.internal").port, 6379);
  auto unix_socket = parse_url("unix:///run/redis/redis.sock");
  EXPECT_TRUE(unix_socket.unix_socket);
  EXPECT_EQ(unix_socket.path, "/run/redis/redis.sock");
}

TEST(RedisUrl, RefusesTlsCredentialsAndBadPorts) {
  auto message = [](const char* url) {
    try {
      parse_url(url);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message("rediss://10.0.0.5:6380").find("TLS"), std::string::npos);
  EXPECT_NE(message("redis://user:pw@host:1").find("password_file"), std::string::npos);
  EXPECT_NE(message("redis://host:99999").find("bad port"), std::string::npos);
  EXPECT_NE(message("redis://host:12x").find("bad port"), std::string::npos);
  EXPECT_NE(message("unix://relative.sock").find("unix:///"), std::string::npos);
  EXPECT_NE(message("http://host").find("expected redis://"), std::string::npos);
}

TEST(RedisQueueField, ParsedCheckedAndWritten) {
  protocol::ProtocolLimits limits;
  auto ok = protocol::parse_request(
      R"({"v":1,"op":"submit","inputs":["/a"],"output":"/b","queue":"redis"})", limits);
  ASSERT_TRUE(std::holds_alternative<protocol::Request>(ok));
  auto& sub = std::get<protocol::SubmitRequest>(std::get<protocol::Request>(ok).body);
  EXPECT_EQ(sub.queue, "redis");
  nlohmann::json back;
  protocol::to_json(back, sub);
  EXPECT_EQ(back["queue"], "redis");
  auto bad = protocol::parse_request(
      R"({"v":1,"op":"submit","inputs":["/a"],"output":"/b","queue":"kafka"})", limits);
  ASSERT_TRUE(std::holds_alternative<protocol::ProtocolError>(bad));
  EXPECT_EQ(std::get<protocol::ProtocolError>(bad).code, "bad_request");
  EXPECT_NE(std::get<protocol::ProtocolError>(bad).message.find("field 'queue'"),
            std::string::npos);
}

}  // namespace
}  // namespace qkv::jobs::redis
