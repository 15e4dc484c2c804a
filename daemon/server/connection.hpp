// One client connection: reads newline-delimited requests (bounded size, idle deadline),
// hands them one at a time to the backend, writes replies in order, and stops reading a
// client whose unsent replies pass max_reply_buffer_bytes (closing it if it stays there). Lives on
// the server's io_context thread; Reply objects hand results back to it from any thread.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/asio.hpp"
#include "server/backend.hpp"

namespace qkv::server {

namespace asio = boost::asio;
using Socket = asio::generic::stream_protocol::socket;

struct ConnectionLimits {
  std::size_t max_request_bytes = 1 << 20;
  std::size_t max_auth_bytes = 4096;              // the line before a TCP client has authenticated
  std::chrono::milliseconds idle_timeout{60000};  // a whole request line must arrive within it
  // Unsent reply bytes over this: the connection stops reading requests until the client
  // reads; still over after idle_timeout, it is closed.
  std::size_t max_reply_buffer_bytes = 8u << 20;
};

class TokenStore;

// Who is on the other end. A TCP peer (tokens set) is unauthenticated until its first request,
// `auth`, names a token of the store.
struct PeerInfo {
  Identity identity;
  std::string address;                 // for logs: "unix uid 1000" or "127.0.0.1:51234"
  const TokenStore* tokens = nullptr;  // TCP: the tokens to prove; null on the Unix socket
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Socket socket, PeerInfo peer, ConnectionLimits limits, Backend& backend,
             std::function<void()> on_gone);
  ~Connection();
  void start();
  // Replies with an error line, then closes (used when refusing a connection).
  void refuse(std::string_view code, std::string_view message);
  void close();

  // Called through Reply (posted onto the io thread).
  void deliver_event(uint64_t request, std::string line);
  void deliver_done(uint64_t request, std::string line);
  bool gone() const noexcept { return gone_; }
  void add_close_hook(uint64_t request, std::function<void()> fn);

 private:
  void read_more();
  void process();
  void arm_idle();
  void queue_write(std::string line);
  void write_next();
  void finish_request();
  void mark_gone();
  bool replies_full() const noexcept { return out_bytes_ > limits_.max_reply_buffer_bytes; }
  void arm_stall();  // closes the connection if its replies stay unread
  // The first line on a TCP connection: true once `auth` succeeded, else refused and closing.
  bool authenticate(const std::string& line);

  Socket socket_;
  PeerInfo peer_;
  bool authenticated_;
  ConnectionLimits limits_;
  Backend& backend_;
  std::function<void()> on_gone_;
  asio::steady_timer idle_;

  std::string in_;           // received bytes not yet consumed
  std::vector<char> chunk_;  // read buffer
  bool reading_ = false, eof_ = false, gone_ = false, closing_ = false;
  bool busy_ = false;                       // a request is in progress
  bool idle_armed_ = false;                 // the idle deadline is running
  uint64_t request_seq_ = 0;                // id of the request in progress
  std::shared_ptr<Connection> keep_alive_;  // set while a request is in progress
  std::vector<std::function<void()>> close_hooks_;

  std::deque<std::string> out_;
  std::optional<std::string> pending_event_;
  bool writing_ = false;
  std::string writing_buf_;
  std::size_t out_bytes_ = 0;  // in out_ and writing_buf_: replies not yet sent
  asio::steady_timer stall_;
  bool stall_armed_ = false;
};

}  // namespace qkv::server
