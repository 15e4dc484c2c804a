#include "host/logger.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

namespace qkv::host {
namespace {
std::atomic<int> threshold{QKV_LOG_INFO};
std::mutex output_mutex;

const char* level_name(qkv_log_level level) {
  switch (level) {
    case QKV_LOG_DEBUG:
      return "debug";
    case QKV_LOG_INFO:
      return "info";
    case QKV_LOG_WARN:
      return "warning";
    case QKV_LOG_ERROR:
      return "error";
  }
  return "log";
}
}  // namespace

void set_log_level(qkv_log_level level) noexcept { threshold.store(level); }
qkv_log_level log_level() noexcept { return static_cast<qkv_log_level>(threshold.load()); }

void log_message(qkv_log_level level, std::string_view source, std::string_view message) noexcept {
  if (static_cast<int>(level) < threshold.load()) return;
  try {
    std::string line = "qkvd: ";
    line += level_name(level);
    line += ": ";
    if (!source.empty()) {
      line += '[';
      line += source;
      line += "] ";
    }
    line += message;
    line += '\n';
    std::lock_guard lock(output_mutex);
    std::fwrite(line.data(), 1, line.size(), stderr);
  } catch (...) {
    // Logging never throws into a plugin.
  }
}

}  // namespace qkv::host
