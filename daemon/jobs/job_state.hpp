// The life of a job: queued -> running -> done | failed | cancelled. The states and their
// names are the protocol's (protocol/job_state.hpp); jobs name them in their own namespace.
#pragma once

#include "protocol/job_state.hpp"

namespace qkv::jobs {

using protocol::is_terminal;
using protocol::JobState;
using protocol::parse_job_state;
using protocol::to_string;

}  // namespace qkv::jobs
