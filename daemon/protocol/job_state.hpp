// The life of a job: queued -> running -> done | failed | cancelled. The names are the ones
// the protocol shows (job views, `list`'s `state` filter, spool reports).
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace qkv::protocol {

enum class JobState { queued, running, done, failed, cancelled };
inline constexpr std::array kJobStates = {JobState::queued, JobState::running, JobState::done,
                                          JobState::failed, JobState::cancelled};

std::string_view to_string(JobState s) noexcept;
std::optional<JobState> parse_job_state(std::string_view s) noexcept;
inline bool is_terminal(JobState s) noexcept {
  return s == JobState::done || s == JobState::failed || s == JobState::cancelled;
}

}  // namespace qkv::protocol
