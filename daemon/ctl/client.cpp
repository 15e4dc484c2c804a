#include "ctl/client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace qkv::ctl {

Client Client::connect(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path)
    throw ConnectionError("socket path " + path + " is too long");
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw ConnectionError(std::string("cannot create a socket: ") + std::strerror(errno));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd);
    std::string hint = err == ENOENT || err == ECONNREFUSED ? " (is qkvd running? see --socket)"
                       : err == EACCES                      ? " (are you in the daemon's group?)"
                                                            : "";
    throw ConnectionError("cannot connect to qkvd at " + path + ": " + std::strerror(err) + hint);
  }
  return Client(fd);
}

Client Client::connect_tcp(const std::string& address, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1)
    throw ConnectionError("'" + address + "' is not an IPv4 address");
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw ConnectionError(std::string("cannot create a socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd);
    throw ConnectionError("cannot connect to qkvd at " + address + ":" + std::to_string(port) +
                          ": " + std::strerror(err));
  }
  return Client(fd);
}

Client::Client(Client&& o) noexcept : fd_(std::exchange(o.fd_, -1)), buf_(std::move(o.buf_)) {}
Client& Client::operator=(Client&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    buf_ = std::move(o.buf_);
  }
  return *this;
}
Client::~Client() { close(); }

void Client::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Client::send_raw(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw ConnectionError(std::string("lost the connection to qkvd: ") + std::strerror(errno));
    bytes.remove_prefix(std::size_t(n));
  }
}

void Client::send(const nlohmann::json& request) { send_raw(request.dump() + "\n"); }

std::string Client::read_line(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = buf_.find('\n'); nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    if (timeout.count() > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) throw ConnectionError("no reply from qkvd in time");
      pollfd p{fd_, POLLIN, 0};
      int rc = ::poll(&p, 1, int(left.count()));
      if (rc == 0) throw ConnectionError("no reply from qkvd in time");
      if (rc < 0 && errno != EINTR) throw ConnectionError(std::strerror(errno));
      if (rc < 0) continue;
    }
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw ConnectionError(std::string("lost the connection to qkvd: ") + std::strerror(errno));
    if (n == 0) throw ConnectionError("qkvd closed the connection");
    buf_.append(chunk, std::size_t(n));
  }
}

nlohmann::json Client::read_json(std::chrono::milliseconds timeout) {
  std::string line = read_line(timeout);
  try {
    return nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    throw ConnectionError(std::string("qkvd sent a line that is not JSON: ") + e.what());
  }
}

nlohmann::json Client::call(const nlohmann::json& request) {
  send(request);
  return read_json();
}

}  // namespace qkv::ctl
