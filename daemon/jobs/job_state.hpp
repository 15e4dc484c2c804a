// The life of a job: queued -> running -> done | failed | cancelled.
#pragma once

#include <optional>
#include <string_view>

namespace qkv::jobs {

enum class JobState { queued, running, done, failed, cancelled };

std::string_view to_string(JobState s) noexcept;
std::optional<JobState> parse_job_state(std::string_view s) noexcept;
inline bool is_terminal(JobState s) noexcept {
  return s == JobState::done || s == JobState::failed || s == JobState::cancelled;
}

}  // namespace qkv::jobs
