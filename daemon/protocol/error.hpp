// An error with a documented code (protocol/error_codes.hpp) and a message for humans that
// says what and where. Thrown by request parsing, job parsing, path checks and runners;
// turned into error replies and job reports. Never crosses the plugin C ABI.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace qkv::protocol {

class Error : public std::runtime_error {
 public:
  Error(std::string_view code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  const std::string& code() const noexcept { return code_; }

 private:
  std::string code_;
};

}  // namespace qkv::protocol
