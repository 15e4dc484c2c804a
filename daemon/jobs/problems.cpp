#include "jobs/problems.hpp"

namespace qkv::jobs {

void Problems::set(const std::string& origin, std::vector<std::string> problems) {
  std::lock_guard lock(mutex_);
  if (problems.empty())
    by_origin_.erase(origin);
  else
    by_origin_[origin] = std::move(problems);
}

std::vector<std::string> Problems::all() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [origin, list] : by_origin_) out.insert(out.end(), list.begin(), list.end());
  return out;
}

}  // namespace qkv::jobs
