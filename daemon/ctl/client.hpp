// A blocking client for qkvd's socket protocol (docs/protocol.md): one request line out,
// reply lines in. Used by qkvctl, the daemon tests and the benchmarks.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace qkv::ctl {

// The daemon cannot be reached, or the connection broke.
class ConnectionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Client {
 public:
  // Connects to a Unix socket. Throws ConnectionError naming the path and the cause.
  static Client connect(const std::string& socket_path);
  // Connects to qkvd's TCP listener (IPv4 address); the first request must then be `auth`.
  static Client connect_tcp(const std::string& address, uint16_t port);
  Client(Client&& o) noexcept;
  Client& operator=(Client&& o) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  void send_raw(std::string_view bytes);
  void send(const nlohmann::json& request);
  // The next reply line (without '\n'). Throws ConnectionError on EOF or timeout
  // (timeout 0: wait forever).
  std::string read_line(std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  nlohmann::json read_json(std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  // send + read_json.
  nlohmann::json call(const nlohmann::json& request);
  int fd() const noexcept { return fd_; }
  void close() noexcept;

 private:
  explicit Client(int fd) : fd_(fd) {}
  int fd_ = -1;
  std::string buf_;
};

}  // namespace qkv::ctl
