#include "protocol/job_state.hpp"

namespace qkv::protocol {

std::string_view to_string(JobState s) noexcept {
  switch (s) {
    case JobState::queued:
      return "queued";
    case JobState::running:
      return "running";
    case JobState::done:
      return "done";
    case JobState::failed:
      return "failed";
    case JobState::cancelled:
      return "cancelled";
  }
  return "unknown";
}

std::optional<JobState> parse_job_state(std::string_view s) noexcept {
  for (auto st : kJobStates)
    if (to_string(st) == s) return st;
  return std::nullopt;
}

}  // namespace qkv::protocol
