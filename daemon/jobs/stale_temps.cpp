#include "jobs/stale_temps.hpp"

#include <signal.h>

#include <cerrno>
#include <filesystem>

namespace qkv::jobs {

std::size_t remove_stale_temps(const std::string& output) noexcept {
  namespace fs = std::filesystem;
  std::size_t removed = 0;
  try {
    fs::path out(output);
    std::string prefix = out.stem().string();
    prefix.insert(prefix.begin(), '.');
    std::error_code ec;
    for (auto& e : fs::directory_iterator(out.parent_path(), ec)) {
      std::string name = e.path().filename().string();
      auto tmp = name.find(".tmp-");
      if (name.rfind(prefix, 0) != 0 || tmp == std::string::npos) continue;
      long pid = 0;
      std::size_t i = tmp + 5;
      for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i)
        pid = pid * 10 + (name[i] - '0');
      if (pid <= 0 || i == tmp + 5) continue;
      if (::kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;  // its writer still runs
      std::error_code rec;
      if (fs::remove(e.path(), rec)) ++removed;
    }
  } catch (...) {
  }
  return removed;
}

}  // namespace qkv::jobs
