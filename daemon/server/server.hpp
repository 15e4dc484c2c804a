// The listening side: a Unix socket (mode set by config; stale socket files replaced, a live
// one refused), optionally a TCP listener when configured, a cap on connections.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/connection.hpp"
#include "server/token_store.hpp"

namespace qkv::server {

struct ServerOptions {
  std::filesystem::path socket;
  unsigned socket_mode = 0660;
  std::optional<std::pair<std::string, uint16_t>> tcp;  // address, port
  std::optional<TokenStore> tokens;                     // required with tcp
  ConnectionLimits limits;
  std::size_t max_connections = 1024;
  std::size_t max_connections_per_peer = 64;  // per uid on the Unix socket, per address on TCP
};

class Server {
 public:
  Server(asio::io_context& io, ServerOptions options, Backend& backend);
  ~Server();
  // Binds and starts accepting. Throws std::runtime_error with a clear message.
  void listen();
  // Closes the listeners and removes the socket file; connections stay.
  void stop_accepting();
  // Closes every connection (at exit).
  void close_all();
  std::size_t connections() const noexcept { return live_; }
  uint64_t accepted_total() const noexcept { return accepted_; }

 private:
  using Acceptor = asio::basic_socket_acceptor<asio::generic::stream_protocol>;
  void accept_next(Acceptor& acceptor, bool unix_socket);
  void admit(const std::shared_ptr<Connection>& conn);  // starts serving it
  void open_unix();
  void open_tcp();

  asio::io_context& io_;
  ServerOptions options_;
  Backend& backend_;
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  std::vector<std::weak_ptr<Connection>> conns_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::size_t live_ = 0;
  std::map<std::string, std::size_t> per_peer_;  // live connections by peer key
  uint64_t accepted_ = 0;
  bool socket_created_ = false;
  asio::steady_timer backoff_;
};

}  // namespace qkv::server
