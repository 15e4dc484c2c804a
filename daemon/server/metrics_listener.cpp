#include "server/metrics_listener.hpp"

#include <iostream>
#include <stdexcept>

namespace qkv::server {
namespace {

constexpr std::size_t kMaxRequestBytes = 8192;
constexpr auto kDeadline = std::chrono::seconds(5);

// One connection: read the head, answer, close.
struct Exchange : std::enable_shared_from_this<Exchange> {
  Exchange(asio::ip::tcp::socket s, std::function<std::string()> render)
      : socket(std::move(s)), render(std::move(render)), timer(socket.get_executor()) {}

  void start() {
    timer.expires_after(kDeadline);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->socket.close();
    });
    read();
  }

  void read() {
    asio::async_read_until(socket, asio::dynamic_buffer(head, kMaxRequestBytes), "\r\n\r\n",
                           [self = shared_from_this()](const boost::system::error_code& ec,
                                                       std::size_t) { self->answer(ec); });
  }

  void answer(const boost::system::error_code& ec) {
    if (ec == asio::error::not_found) return reply("431 Request Header Fields Too Large", "");
    if (ec) return;
    std::string_view line(head);
    line = line.substr(0, line.find("\r\n"));
    auto sp = line.find(' ');
    std::string_view method = line.substr(0, sp);
    std::string_view target = sp == std::string_view::npos ? "" : line.substr(sp + 1);
    target = target.substr(0, target.find(' '));
    if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    if (target != "/metrics") return reply("404 Not Found", "only GET /metrics is served here\n");
    if (method != "GET" && method != "HEAD")
      return reply("405 Method Not Allowed", "GET /metrics only\n");
    std::string body = render();
    reply("200 OK", method == "HEAD" ? "" : body, body.size());
  }

  void reply(const char* status, std::string body, std::size_t length = std::string::npos) {
    out = std::string("HTTP/1.1 ") + status +
          "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: " +
          std::to_string(length == std::string::npos ? body.size() : length) +
          "\r\nConnection: close\r\n\r\n" + body;
    asio::async_write(socket, asio::buffer(out),
                      [self = shared_from_this()](const boost::system::error_code&, std::size_t) {
                        boost::system::error_code ignored;
                        self->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
                        self->socket.close(ignored);
                        self->timer.cancel();
                      });
  }

  asio::ip::tcp::socket socket;
  std::function<std::string()> render;  // a copy: an exchange may outlive the listener
  asio::steady_timer timer;
  std::string head, out;
};

}  // namespace

MetricsListener::MetricsListener(asio::io_context& io, std::string address, uint16_t port,
                                 std::function<std::string()> render)
    : io_(io),
      address_(std::move(address)),
      port_(port),
      render_(std::move(render)),
      acceptor_(io) {}

MetricsListener::~MetricsListener() {
  *alive_ = false;
  stop();
}

void MetricsListener::listen() {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(address_, ec);
  if (ec) throw std::runtime_error("metrics.address '" + address_ + "' is not an IP address");
  asio::ip::tcp::endpoint ep(addr, port_);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("cannot serve metrics on " + address_ + ":" + std::to_string(port_) +
                             ": " + ec.message() +
                             (ec == boost::system::errc::address_family_not_supported ||
                                      ec == boost::system::errc::permission_denied
                                  ? "; under systemd, `metrics:` needs the drop-in "
                                    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 "
                                    "(docs/service.md)"
                                  : ""));
  std::cerr << "qkvd: metrics on http://" << address_ << ":" << port_ << "/metrics\n";
  accept_next();
}

void MetricsListener::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

void MetricsListener::accept_next() {
  acceptor_.async_accept(
      [this, alive = alive_](const boost::system::error_code& ec, asio::ip::tcp::socket s) {
        if (!*alive || ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
        if (!ec) std::make_shared<Exchange>(std::move(s), render_)->start();
        accept_next();
      });
}

}  // namespace qkv::server
