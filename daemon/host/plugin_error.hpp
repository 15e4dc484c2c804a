// Errors crossing the plugin ABI: the host-side definition of the opaque qkv_error, and the
// C++ exception the host's wrappers throw when a plugin reports one.
#pragma once

#include <qkv/abi.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

// Made only by the host (error_new below, or the services table); freed only by the host.
struct qkv_error {
  qkv_status code;
  std::string message;
};

namespace qkv {

// Thrown by host wrappers when a plugin returns an error (or cannot be created).
class PluginError : public std::runtime_error {
 public:
  PluginError(qkv_status code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  qkv_status code() const noexcept { return code_; }

 private:
  qkv_status code_;
};

namespace host {

// Short name of a status, e.g. "invalid input" (for messages).
std::string_view status_name(qkv_status code) noexcept;

// Allocates an error object (what qkv_host.error_new hands out). Never throws: on allocation
// failure it returns a static out-of-memory error, which error_free knows not to delete.
qkv_error* error_new(qkv_status code, std::string_view message) noexcept;
void error_free(qkv_error* error) noexcept;

struct ErrorDeleter {
  void operator()(qkv_error* e) const noexcept { error_free(e); }
};
using ErrorPtr = std::unique_ptr<qkv_error, ErrorDeleter>;

// Takes ownership of `error` (may be null) and, if set, throws PluginError whose message is
// "<context>: <plugin message>".
void throw_if_error(qkv_error* error, std::string_view context);

}  // namespace host
}  // namespace qkv
