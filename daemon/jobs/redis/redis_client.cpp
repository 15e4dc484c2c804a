#include "jobs/redis/redis_client.hpp"

#include <hiredis/hiredis.h>

#include <charconv>

namespace qkv::jobs::redis {

Address parse_url(std::string_view url) {
  Address a;
  a.text = std::string(url);
  auto starts = [&](std::string_view p) { return url.substr(0, p.size()) == p; };
  if (starts("rediss://"))
    throw std::invalid_argument("'" + a.text +
                                "': rediss:// (TLS) is not supported (hiredis 0.14 has no TLS); "
                                "use a private network, stunnel or WireGuard (docs/scale-out.md)");
  if (starts("unix://")) {
    a.unix_socket = true;
    a.path = std::string(url.substr(7));
    if (a.path.empty() || a.path[0] != '/')
      throw std::invalid_argument("'" + a.text + "': expected unix:///absolute/path");
    return a;
  }
  if (!starts("redis://"))
    throw std::invalid_argument("'" + a.text +
                                "': expected redis://host:port or unix:///path/to/socket");
  std::string_view rest = url.substr(8);
  if (auto slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
  if (rest.find('@') != std::string_view::npos)
    throw std::invalid_argument("'" + a.text +
                                "': credentials do not go in the url; use "
                                "sources.redis.username and password_file");
  auto colon = rest.rfind(':');
  a.host = std::string(rest.substr(0, colon));
  if (colon != std::string_view::npos) {
    std::string_view p = rest.substr(colon + 1);
    int port = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (ec != std::errc() || end != p.data() + p.size() || port < 1 || port > 65535)
      throw std::invalid_argument("'" + a.text + "': bad port '" + std::string(p) + "'");
    a.port = port;
  }
  if (a.host.empty()) throw std::invalid_argument("'" + a.text + "': no host");
  return a;
}

const Reply* Reply::field(std::string_view name) const {
  for (std::size_t i = 0; i + 1 < elements.size(); i += 2)
    if (elements[i].str == name) return &elements[i + 1];
  return nullptr;
}

namespace {

Reply convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      break;
  }
  return out;
}

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};

}  // namespace

Client::Client(Address address, Credentials credentials, std::chrono::milliseconds timeout)
    : address_(std::move(address)), credentials_(std::move(credentials)), timeout_(timeout) {}

Client::~Client() { disconnect(); }

void Client::disconnect() noexcept {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

void Client::connect() {
  timeval tv{static_cast<time_t>(timeout_.count() / 1000),
             static_cast<suseconds_t>((timeout_.count() % 1000) * 1000)};
  redisContext* c = address_.unix_socket
                        ? redisConnectUnixWithTimeout(address_.path.c_str(), tv)
                        : redisConnectWithTimeout(address_.host.c_str(), address_.port, tv);
  if (!c) throw ConnectionError("cannot reach Redis at " + address_.text + ": out of memory");
  if (c->err) {
    std::string why = c->errstr;
    redisFree(c);
    throw ConnectionError("cannot reach Redis at " + address_.text + ": " + why);
  }
  redisSetTimeout(c, tv);
  ctx_ = c;
  if (!credentials_.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!credentials_.username.empty()) auth.push_back(credentials_.username);
    auth.push_back(credentials_.password);
    try {
      command(auth);
    } catch (const ReplyError& e) {
      disconnect();
      throw ConnectionError("Redis at " + address_.text + " refused AUTH: " + e.what());
    }
  }
}

Reply Client::command(const std::vector<std::string>& argv) {
  if (!ctx_) connect();
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  std::unique_ptr<redisReply, ReplyFree> r(static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(args.size()), args.data(), lens.data())));
  if (!r) {
    std::string why = ctx_->errstr;
    disconnect();
    throw ConnectionError("Redis at " + address_.text + ": " + why);
  }
  if (r->type == REDIS_REPLY_ERROR)
    throw ReplyError(argv.empty() ? std::string(r->str, r->len)
                                  : argv[0] + ": " + std::string(r->str, r->len));
  return convert(r.get());
}

}  // namespace qkv::jobs::redis
