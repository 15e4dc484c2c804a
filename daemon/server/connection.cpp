#include "server/connection.hpp"

#include <array>
#include <atomic>
#include <iostream>

#include "protocol/error_codes.hpp"
#include "protocol/replies.hpp"
#include "server/token_store.hpp"

namespace qkv::server {
namespace {

namespace code = protocol::code;
using protocol::error_line;

// The Reply of one request: forwards to its connection on the io thread, if it still exists.
class ConnectionReply final : public Reply {
 public:
  ConnectionReply(std::weak_ptr<Connection> conn, uint64_t seq, asio::any_io_executor ex)
      : conn_(std::move(conn)), seq_(seq), ex_(std::move(ex)) {}

  void event(std::string line) override {
    if (done_.load(std::memory_order_relaxed)) return;
    asio::post(ex_, [c = conn_, seq = seq_, l = std::move(line)]() mutable {
      if (auto conn = c.lock()) conn->deliver_event(seq, std::move(l));
    });
  }
  void done(std::string line) override {
    if (done_.exchange(true)) return;
    asio::post(ex_, [c = conn_, seq = seq_, l = std::move(line)]() mutable {
      if (auto conn = c.lock()) conn->deliver_done(seq, std::move(l));
    });
  }
  bool closed() const override {
    if (closed_.load(std::memory_order_relaxed)) return true;
    auto conn = conn_.lock();
    return !conn;
  }
  void on_close(std::function<void()> fn) override {
    asio::post(ex_, [c = conn_, seq = seq_, f = std::move(fn)]() mutable {
      if (auto conn = c.lock())
        conn->add_close_hook(seq, std::move(f));
      else
        f();
    });
  }
  void mark_closed() { closed_.store(true, std::memory_order_relaxed); }

 private:
  std::weak_ptr<Connection> conn_;
  uint64_t seq_;
  asio::any_io_executor ex_;
  std::atomic<bool> done_{false}, closed_{false};
};

// Request lines of HTTP/1.x and the HTTP/2 preface: a browser's no-cors fetch or curl must
// never reach the parser, whatever the body says.
bool looks_like_http(std::string_view line) {
  static constexpr std::array methods = {"GET ", "POST ",   "PUT ",   "OPTIONS ", "HEAD ",
                                         "PRI ", "DELETE ", "PATCH ", "CONNECT ", "TRACE "};
  for (std::string_view m : methods)
    if (line.substr(0, m.size()) == m) return true;
  return line.find(" HTTP/") != std::string_view::npos && line.front() != '{';
}

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r") == std::string_view::npos; }

}  // namespace

Connection::Connection(Socket socket, PeerInfo peer, ConnectionLimits limits, Backend& backend,
                       std::function<void()> on_gone)
    : socket_(std::move(socket)),
      peer_(std::move(peer)),
      authenticated_(peer_.tokens == nullptr),
      limits_(limits),
      backend_(backend),
      on_gone_(std::move(on_gone)),
      idle_(socket_.get_executor()),
      chunk_(64 * 1024),
      stall_(socket_.get_executor()) {}

Connection::~Connection() {
  if (!gone_ && on_gone_) on_gone_();
}

void Connection::start() {
  arm_idle();
  read_more();
}

void Connection::refuse(std::string_view code, std::string_view message) {
  queue_write(error_line(code, message));
  closing_ = true;
  idle_.cancel();
  idle_armed_ = false;
  write_next();
}

void Connection::close() {
  if (gone_) return;
  closing_ = true;
  write_next();
}

// The deadline runs from the end of the previous request (or the connect) to the end of the
// next request line: bytes trickling in do not extend it.
void Connection::arm_idle() {
  if (limits_.idle_timeout.count() <= 0 || idle_armed_) return;
  idle_armed_ = true;
  idle_.expires_after(limits_.idle_timeout);
  idle_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
    auto self = w.lock();
    if (ec || !self) return;
    self->idle_armed_ = false;
    // Not idle: a request runs, or replies wait for the client (the stall timer's case).
    if (self->busy_ || self->closing_ || self->gone_ || self->replies_full()) return;
    self->refuse(code::idle_timeout,
                 "no complete request line within limits.idle_timeout_seconds (" +
                     std::to_string(self->limits_.idle_timeout.count() / 1000) +
                     " s); closing the connection");
  });
}

void Connection::read_more() {
  if (reading_ || eof_ || gone_ || closing_) return;
  if (replies_full()) return arm_stall();  // resumes when the client reads (write_next)
  // While a request runs, buffer at most one more request's worth, then stop reading.
  if (busy_ && in_.size() > limits_.max_request_bytes) return;
  reading_ = true;
  socket_.async_read_some(
      asio::buffer(chunk_),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        self->reading_ = false;
        if (ec == asio::error::eof) {
          // The client closed its side: answer what it sent, end any wait, then close.
          self->eof_ = true;
          auto hooks = std::move(self->close_hooks_);
          self->close_hooks_.clear();
          for (auto& h : hooks) h();
        } else if (ec) {
          self->mark_gone();
          return;
        } else {
          self->in_.append(self->chunk_.data(), n);
        }
        self->process();
        self->read_more();
      });
}

void Connection::process() {
  while (!busy_ && !closing_ && !gone_ && !replies_full()) {
    std::size_t nl = in_.find('\n');
    const std::size_t max_line =
        authenticated_ ? limits_.max_request_bytes : limits_.max_auth_bytes;
    if (nl == std::string::npos) {
      if (in_.size() > max_line) {
        if (!authenticated_) {
          std::cerr << "qkvd: warning: refused authentication from " << peer_.address
                    << ": no auth line within " << max_line << " bytes\n";
          refuse(code::unauthenticated,
                 "the first request on a TCP connection must be "
                 "{\"op\":\"auth\",\"token\":\"...\"}");
          return;
        }
        refuse(code::request_too_large, "request line longer than limits.max_request_bytes (" +
                                            std::to_string(limits_.max_request_bytes) + " bytes)");
        return;
      }
      if (!eof_) break;
      if (blank(in_)) {  // end of stream, nothing left: close once replies are out
        closing_ = true;
        write_next();
        return;
      }
      nl = in_.size();  // the last line may lack its newline
      in_.push_back('\n');
    }
    if (nl > limits_.max_request_bytes) {
      refuse(code::request_too_large, "request line longer than limits.max_request_bytes (" +
                                          std::to_string(limits_.max_request_bytes) + " bytes)");
      return;
    }
    std::string line = in_.substr(0, nl);
    in_.erase(0, nl + 1);
    if (blank(line)) continue;
    if (line.back() == '\r') line.pop_back();
    if (!authenticated_) {
      idle_.cancel();
      idle_armed_ = false;
      if (!authenticate(line)) return;
      continue;
    }
    busy_ = true;
    ++request_seq_;
    idle_.cancel();
    idle_armed_ = false;
    auto parsed = protocol::parse_request(line, backend_.protocol_limits());
    if (auto* err = std::get_if<protocol::ProtocolError>(&parsed)) {
      queue_write(error_line(err->code, err->message, err->tag));
      busy_ = false;
      continue;
    }
    auto& request = std::get<Request>(parsed);
    if (request.op() == protocol::Op::auth) {  // already proven: says who, changes nothing
      queue_write(
          protocol::ok_line({{"identity", protocol::submitted_by(peer_.identity)}}, request.tag));
      busy_ = false;
      continue;
    }
    auto reply =
        std::make_shared<ConnectionReply>(weak_from_this(), request_seq_, socket_.get_executor());
    close_hooks_.push_back([reply] { reply->mark_closed(); });
    if (eof_) reply->mark_closed();
    // Replies hold the connection weakly; while its request runs it may have no read or write
    // pending (reading paused), so it keeps itself until the request ends or the client goes.
    keep_alive_ = shared_from_this();
    backend_.handle(std::move(request), peer_.identity, reply);
  }
  if (!busy_ && !closing_ && !gone_) arm_idle();
}

void Connection::arm_stall() {
  if (stall_armed_ || gone_) return;
  stall_armed_ = true;
  auto wait = limits_.idle_timeout.count() > 0 ? limits_.idle_timeout : std::chrono::seconds(60);
  stall_.expires_after(wait);
  stall_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
    auto self = w.lock();
    if (!self) return;
    self->stall_armed_ = false;
    if (ec || self->gone_ || !self->replies_full()) return;
    std::cerr << "qkvd: warning: closing " << self->peer_.address
              << ": it does not read its replies (" << self->out_bytes_
              << " bytes unsent, over limits.max_reply_buffer_bytes, for "
                 "limits.idle_timeout_seconds)\n";
    self->mark_gone();
  });
}

bool Connection::authenticate(const std::string& line) {
  auto refuse_auth = [&](const std::string& why, std::string_view message,
                         const nlohmann::json& tag = nullptr) {
    std::cerr << "qkvd: warning: refused authentication from " << peer_.address << ": " << why
              << "\n";
    queue_write(error_line(code::unauthenticated, message, tag));
    closing_ = true;
    write_next();
    return false;
  };
  constexpr std::string_view first =
      "the first request on a TCP connection must be {\"op\":\"auth\",\"token\":\"...\"}";
  if (looks_like_http(line)) return refuse_auth("an HTTP request", "qkvd does not speak HTTP");
  auto parsed = protocol::parse_request(line, backend_.protocol_limits());
  auto* request = std::get_if<Request>(&parsed);
  if (!request || request->op() != protocol::Op::auth)
    return refuse_auth("a first request other than auth", first,
                       request ? request->tag : std::get<protocol::ProtocolError>(parsed).tag);
  auto name = peer_.tokens->name_for(std::get<protocol::AuthRequest>(request->body).token);
  if (!name) return refuse_auth("an unknown token", "the token is not valid", request->tag);
  peer_.identity.token = *name;
  authenticated_ = true;
  std::cerr << "qkvd: " << peer_.address << " authenticated as token '" << *name << "'\n";
  queue_write(
      protocol::ok_line({{"identity", protocol::submitted_by(peer_.identity)}}, request->tag));
  return true;
}

void Connection::add_close_hook(uint64_t request, std::function<void()> fn) {
  if (gone_ || eof_ || request != request_seq_ || !busy_) {
    fn();
    return;
  }
  close_hooks_.push_back(std::move(fn));
}

void Connection::deliver_event(uint64_t request, std::string line) {
  if (gone_ || request != request_seq_ || !busy_) return;
  pending_event_ = std::move(line);  // a newer event replaces an unsent one
  write_next();
}

void Connection::deliver_done(uint64_t request, std::string line) {
  if (gone_ || request != request_seq_ || !busy_) return;
  if (pending_event_) {
    out_bytes_ += pending_event_->size();
    out_.push_back(std::move(*pending_event_));
    pending_event_.reset();
  }
  out_bytes_ += line.size();
  out_.push_back(std::move(line));
  finish_request();
}

void Connection::finish_request() {
  busy_ = false;
  auto self = std::move(keep_alive_);  // released when this call returns
  close_hooks_.clear();
  process();
  read_more();
  write_next();
}

void Connection::queue_write(std::string line) {
  out_bytes_ += line.size();
  out_.push_back(std::move(line));
  write_next();
}

void Connection::write_next() {
  if (writing_ || gone_) return;
  writing_buf_.clear();
  while (!out_.empty()) {  // one write for everything queued
    writing_buf_ += out_.front();
    out_.pop_front();
  }
  if (writing_buf_.empty() && pending_event_) {
    writing_buf_ = std::move(*pending_event_);
    out_bytes_ += writing_buf_.size();
    pending_event_.reset();
  }
  if (writing_buf_.empty()) {
    if (closing_ || (eof_ && !busy_ && in_.empty())) {
      boost::system::error_code ignored;
      socket_.shutdown(Socket::shutdown_both, ignored);
      mark_gone();
    }
    return;
  }
  writing_ = true;
  asio::async_write(socket_, asio::buffer(writing_buf_),
                    [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                      self->writing_ = false;
                      if (ec) {
                        self->mark_gone();
                        return;
                      }
                      const bool was_full = self->replies_full();
                      self->out_bytes_ -= self->writing_buf_.size();
                      if (was_full && !self->replies_full()) {  // the client reads again
                        self->stall_.cancel();
                        self->process();
                        self->read_more();
                      }
                      self->write_next();
                    });
}

void Connection::mark_gone() {
  if (gone_) return;
  gone_ = true;
  auto hooks = std::move(close_hooks_);
  close_hooks_.clear();
  for (auto& h : hooks) h();
  boost::system::error_code ignored;
  idle_.cancel();
  stall_.cancel();
  out_.clear();  // unsent replies of a client that is gone
  socket_.close(ignored);
  if (on_gone_) on_gone_();
  keep_alive_.reset();  // callers hold their own reference
}

}  // namespace qkv::server
