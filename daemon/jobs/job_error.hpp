// An error with a stable, documented code (docs/protocol.md) and a message for humans.
// Thrown by job parsing, path checks and runners; turned into protocol error replies and
// job reports. The code is what scripts match on; the message says what and where.
#pragma once

#include <stdexcept>
#include <string>

namespace qkv::jobs {

class JobError : public std::runtime_error {
 public:
  JobError(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const noexcept { return code_; }

 private:
  std::string code_;
};

}  // namespace qkv::jobs
