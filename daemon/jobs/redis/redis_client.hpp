// The one place that speaks to Redis (hiredis 0.14): a connection, commands as argument
// vectors, replies as values. Only daemon/jobs/redis links hiredis (tests/layering/rules.txt).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct redisContext;

namespace qkv::jobs::redis {

// Redis cannot be reached or the connection broke: the caller reconnects later.
class ConnectionError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Redis answered with an error reply (wrong type, bad script, NOGROUP...).
class ReplyError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Where Redis listens: `redis://host:port` or `unix:///path` (docs/scale-out.md).
struct Address {
  bool unix_socket = false;
  std::string host;  // tcp
  int port = 6379;   // tcp
  std::string path;  // unix
  std::string text;  // the url as given, for messages
};
// Throws std::invalid_argument naming what is wrong (`rediss://` is refused: no TLS in hiredis
// 0.14).
Address parse_url(std::string_view url);

struct Reply {
  enum class Type { nil, string, status, integer, array };
  Type type = Type::nil;
  std::string str;  // string, status
  long long integer = 0;
  std::vector<Reply> elements;  // array

  bool is_nil() const { return type == Type::nil; }
  // Field pairs of a stream entry or of XINFO ([k1, v1, k2, v2...]) looked up by name.
  const Reply* field(std::string_view name) const;
};

struct Credentials {
  std::string username;  // empty: AUTH with the password only
  std::string password;  // empty: no AUTH
};

class Client {
 public:
  Client(Address address, Credentials credentials,
         std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects when not connected (throws ConnectionError), then runs one command. An error
  // reply throws ReplyError; a broken connection throws ConnectionError and is dropped.
  Reply command(const std::vector<std::string>& argv);
  bool connected() const noexcept { return ctx_ != nullptr; }
  void disconnect() noexcept;
  const Address& address() const noexcept { return address_; }

 private:
  void connect();
  Address address_;
  Credentials credentials_;
  std::chrono::milliseconds timeout_;
  redisContext* ctx_ = nullptr;
};

}  // namespace qkv::jobs::redis
