// `GET /metrics` over plain HTTP/1.x on its own TCP listener (daemon config `metrics:`): read
// only, no authentication by design, so it serves aggregate numbers and nothing else, and it
// is never the protocol's tcp.port. One request per connection; anything but GET /metrics is
// answered 404 or 405. A slow client is cut after a short deadline.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/asio.hpp"

namespace qkv::server {

namespace asio = boost::asio;

class MetricsListener {
 public:
  // `render` produces the exposition text; it runs on the io thread, so it must be quick.
  MetricsListener(asio::io_context& io, std::string address, uint16_t port,
                  std::function<std::string()> render);
  ~MetricsListener();
  // Binds and starts accepting. Throws std::runtime_error naming the address.
  void listen();
  void stop();
  uint16_t port() const noexcept { return port_; }

 private:
  void accept_next();

  asio::io_context& io_;
  std::string address_;
  uint16_t port_;
  std::function<std::string()> render_;
  asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace qkv::server
