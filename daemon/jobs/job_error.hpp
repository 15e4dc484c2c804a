// An error with a stable, documented code and a message for humans. The codes and the error
// type are the protocol's (protocol/error_codes.hpp, protocol/error.hpp); jobs throw them
// from job parsing, path checks and runners, and they become error replies and job reports.
#pragma once

#include "protocol/error.hpp"
#include "protocol/error_codes.hpp"

namespace qkv::jobs {

using JobError = protocol::Error;
namespace code = protocol::code;

}  // namespace qkv::jobs
