#include "server/server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <iostream>
#include <stdexcept>

#include "protocol/error_codes.hpp"

namespace qkv::server {
namespace {

namespace fs = std::filesystem;
using local = asio::local::stream_protocol;

// SO_PEERCRED: the kernel's word for who connected; a peer it cannot name gets uid -1 (no one).
Identity unix_peer(Socket& s) {
  Identity who;
  who.via = protocol::via::unix_socket;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(s.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    who.pid = cred.pid;
    who.uid = cred.uid;
    who.gid = cred.gid;
  } else {
    who.uid = uint32_t(-1);
  }
  return who;
}

// The address of a TCP peer, without its port: the unit of max_connections_per_peer.
std::string tcp_address(Socket& s, uint16_t* port) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  char buf[INET6_ADDRSTRLEN] = "?";
  *port = 0;
  if (::getpeername(s.native_handle(), reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    if (ss.ss_family == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(&ss);
      ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
      *port = ntohs(in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
      ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
      *port = ntohs(in6->sin6_port);
    }
  }
  return buf;
}

// A socket file left by a dead qkvd is replaced; a live one means another daemon serves it.
void clear_stale_socket(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  if (!S_ISSOCK(st.st_mode))
    throw std::runtime_error("socket path " + path.string() +
                             " exists and is not a socket; remove it or change `socket`");
  asio::io_context probe_io;
  local::socket probe(probe_io);
  boost::system::error_code ec;
  probe.connect(local::endpoint(path.string()), ec);
  if (!ec) throw std::runtime_error("another qkvd is already listening on " + path.string());
  fs::remove(path);
}

}  // namespace

Server::Server(asio::io_context& io, ServerOptions options, Backend& backend)
    : io_(io), options_(std::move(options)), backend_(backend), backoff_(io) {}

Server::~Server() {
  *alive_ = false;
  stop_accepting();
  close_all();
}

void Server::listen() {
  open_unix();
  if (options_.tcp) open_tcp();
}

void Server::open_unix() {
  const fs::path& path = options_.socket;
  if (path.string().size() >= sizeof(sockaddr_un::sun_path))
    throw std::runtime_error("socket path " + path.string() + " is too long (at most " +
                             std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes)");
  std::error_code fec;
  fs::create_directories(path.parent_path(), fec);
  clear_stale_socket(path);
  auto acc = std::make_unique<Acceptor>(io_);
  asio::generic::stream_protocol::endpoint ep(local::endpoint(path.string()));
  acc->open(ep.protocol());
  // Created owner-only, then opened up to the configured mode: never briefly too open.
  mode_t old = ::umask(0177);
  boost::system::error_code ec;
  acc->bind(ep, ec);
  ::umask(old);
  if (ec) throw std::runtime_error("cannot bind " + path.string() + ": " + ec.message());
  socket_created_ = true;
  if (::chmod(path.c_str(), options_.socket_mode) != 0)
    throw std::runtime_error("cannot set mode of " + path.string());
  acc->listen(asio::socket_base::max_listen_connections);
  accept_next(*acc, true);
  acceptors_.push_back(std::move(acc));
}

void Server::open_tcp() {
  auto& [address, port] = *options_.tcp;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(address, ec);
  if (ec) throw std::runtime_error("tcp.address '" + address + "' is not an IP address");
  asio::generic::stream_protocol::endpoint ep(asio::ip::tcp::endpoint(addr, port));
  if (!options_.tokens)
    throw std::runtime_error("tcp needs tcp.tokens_file (NAME:TOKEN lines, mode 0600)");
  auto acc = std::make_unique<Acceptor>(io_);
  acc->open(ep.protocol(), ec);
  if (ec)
    throw std::runtime_error(
        "cannot open a tcp socket for " + address + ": " + ec.message() +
        (ec == boost::system::errc::address_family_not_supported ||
                 ec == boost::system::errc::permission_denied
             ? "; under systemd, `tcp:` needs the drop-in RestrictAddressFamilies=AF_UNIX "
               "AF_INET AF_INET6 (docs/service.md)"
             : ""));
  acc->set_option(asio::socket_base::reuse_address(true));
  acc->bind(ep, ec);
  if (ec)
    throw std::runtime_error("cannot listen on tcp " + address + ":" + std::to_string(port) + ": " +
                             ec.message());
  acc->listen();
  std::cerr << "qkvd: listening on tcp " << address << ":" << port << " ("
            << options_.tokens->size() << " tokens; clients must authenticate first)\n";
  accept_next(*acc, false);
  acceptors_.push_back(std::move(acc));
}

void Server::accept_next(Acceptor& acceptor, bool unix_socket) {
  acceptor.async_accept([this, &acceptor, unix_socket, alive = alive_](
                            const boost::system::error_code& ec, Socket socket) {
    if (!*alive || ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      // Out of descriptors and the like: wait a little instead of spinning.
      std::cerr << "qkvd: error: accept failed: " << ec.message() << "\n";
      backoff_.expires_after(std::chrono::milliseconds(100));
      backoff_.async_wait(
          [this, &acceptor, unix_socket, alive](const boost::system::error_code& e) {
            if (!e && *alive && acceptor.is_open()) accept_next(acceptor, unix_socket);
          });
      return;
    }
    ++accepted_;
    PeerInfo peer;
    std::string key;
    if (unix_socket) {
      peer.identity = unix_peer(socket);
      key = "uid " + std::to_string(peer.identity.uid);
      peer.address = "unix " + protocol::describe(peer.identity);
    } else {
      uint16_t port = 0;
      peer.identity.via = protocol::via::tcp;
      key = tcp_address(socket, &port);
      peer.address = key + ":" + std::to_string(port);
      peer.tokens = &*options_.tokens;
    }
    ++live_;
    std::size_t of_peer = ++per_peer_[key];
    auto conn = std::make_shared<Connection>(
        std::move(socket), std::move(peer), options_.limits, backend_, [this, alive, key] {
          if (!*alive) return;
          --live_;
          if (auto it = per_peer_.find(key); it != per_peer_.end() && --it->second == 0)
            per_peer_.erase(it);
        });
    if (live_ > options_.max_connections) {
      conn->refuse(protocol::code::too_many_connections,
                   "qkvd serves at most " + std::to_string(options_.max_connections) +
                       " connections at once; retry later");
    } else if (of_peer > options_.max_connections_per_peer) {
      // A client that closed one connection and opened the next at once is counted twice until
      // the daemon reads the first one's end: look again after a short grace before refusing.
      auto grace = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
      grace->async_wait([this, alive, conn, key, grace](const boost::system::error_code& ec) {
        if (ec || !*alive) return;
        if (auto it = per_peer_.find(key);
            it != per_peer_.end() && it->second > options_.max_connections_per_peer)
          return conn->refuse(protocol::code::too_many_connections,
                              key + " already has " + std::to_string(it->second - 1) +
                                  " connections, the limit (limits.max_connections_per_peer); "
                                  "retry later");
        admit(conn);
      });
    } else {
      admit(conn);
    }
    accept_next(acceptor, unix_socket);
  });
}

void Server::admit(const std::shared_ptr<Connection>& conn) {
  if (conns_.size() > 2 * live_ + 64)  // forget closed ones now and then
    std::erase_if(conns_, [](auto& w) { return w.expired(); });
  conns_.push_back(conn);
  conn->start();
}

void Server::stop_accepting() {
  for (auto& a : acceptors_) {
    boost::system::error_code ec;
    a->close(ec);
  }
  acceptors_.clear();
  if (socket_created_) {
    std::error_code ec;
    fs::remove(options_.socket, ec);
    socket_created_ = false;
  }
}

void Server::close_all() {
  for (auto& w : conns_)
    if (auto c = w.lock()) c->close();
  conns_.clear();
}

}  // namespace qkv::server
