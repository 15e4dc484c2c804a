// qkvctl's exit codes (docs/service.md): scripts branch on these.
#pragma once

#include <string_view>

#include "protocol/error_codes.hpp"

namespace qkv::ctl {

enum Exit : int {
  kOk = 0,           // request done; the job (if waited for) ended done
  kJobFailed = 1,    // the job ended failed
  kUsage = 2,        // bad command line
  kUnreachable = 3,  // cannot connect to qkvd, or the connection broke
  kRefused = 4,      // qkvd answered with an error (bad request, path denied, not found...)
  kCancelled = 5,    // the job ended cancelled
  kTempFail = 75,    // try again later: queue full, shutting down, too many connections
};

// Exit code of an error reply's code.
inline int exit_for_error(std::string_view error_code) {
  namespace code = protocol::code;
  if (error_code == code::queue_full || error_code == code::shutting_down ||
      error_code == code::too_many_connections || error_code == code::queue_unavailable)
    return kTempFail;
  return kRefused;
}

}  // namespace qkv::ctl
