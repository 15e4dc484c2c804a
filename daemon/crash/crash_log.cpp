#include "crash/crash_log.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <system_error>

#include "crash/crash_handler.hpp"

namespace qkv::crash {
namespace {

constexpr std::size_t kMaxRecordFile = 1 << 20;

}  // namespace

CrashLog::CrashLog(std::filesystem::path dir)
    : dir_((std::filesystem::create_directories(dir), io::Directory::open(dir))) {}

std::vector<std::string> CrashLog::earlier_files() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(dir_.path(), ec)) {
    std::string name = e.path().filename().string();
    if (name == own_name_ || name.empty() || name[0] == '.') continue;
    out.push_back(name);
  }
  return out;
}

std::vector<Record> CrashLog::earlier() const {
  std::vector<Record> out;
  for (auto& name : earlier_files()) {
    std::string text;
    try {
      text = dir_.read_file(name, kMaxRecordFile);
    } catch (const std::exception&) {
      continue;
    }
    for (auto& r : parse_records(text, name)) out.push_back(std::move(r));
  }
  return out;
}

void CrashLog::arm() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  own_name_ = std::to_string(::getpid()) + "-" + std::to_string(ns);
  own_ = io::UniqueFd(::openat(dir_.fd(), own_name_.c_str(),
                               O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!own_)
    throw std::system_error(errno, std::generic_category(),
                            "cannot create crash record file " + dir_.path_of(own_name_).string());
  dir_.sync();
  install_crash_handler(own_.get());
}

void CrashLog::forget_earlier() const {
  for (auto& name : earlier_files()) dir_.remove(name);
  dir_.sync();
}

}  // namespace qkv::crash
