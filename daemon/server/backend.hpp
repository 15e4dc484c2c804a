// What the socket server asks of the daemon. The server owns bytes, lines, limits and
// timeouts; the backend owns meaning. Replies may come later, from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "protocol/identity.hpp"
#include "protocol/requests.hpp"

namespace qkv::server {

using protocol::ProtocolLimits;
using protocol::Request;

using protocol::Identity;

// The reply channel of one request. Thread-safe; outlives the connection harmlessly.
class Reply {
 public:
  virtual ~Reply() = default;
  // An intermediate line (wait's progress events). If the client reads slowly, a newer
  // event replaces one not yet sent.
  virtual void event(std::string line) = 0;
  // The final line; ends the request (later calls are ignored).
  virtual void done(std::string line) = 0;
  // True once the client is gone (or closed its side): stop working for it.
  virtual bool closed() const = 0;
  // Runs `fn` (on the server's thread) when the client goes away before done().
  virtual void on_close(std::function<void()> fn) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual ProtocolLimits protocol_limits() const = 0;
  // Called on the server's thread for each well-formed request of an authenticated client
  // (`auth` itself is the server's); must not block for long.
  virtual void handle(Request request, const Identity& who, std::shared_ptr<Reply> reply) = 0;
};

}  // namespace qkv::server
