#include "host/logger.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <mutex>
#include <streambuf>
#include <string>

#include <nlohmann/json.hpp>

namespace qkv::host {
namespace {
// $QKV_LOG_LEVEL (debug, info, warning, error) sets the start value for every program that
// loads plugins (qkvd, qkv-conformance): the way to see a plugin's debug log.
int initial_threshold() {
  const char* v = std::getenv("QKV_LOG_LEVEL");
  std::string_view s = v ? v : "";
  if (s == "debug") return QKV_LOG_DEBUG;
  if (s == "warning") return QKV_LOG_WARN;
  if (s == "error") return QKV_LOG_ERROR;
  return QKV_LOG_INFO;
}
std::atomic<int> threshold{initial_threshold()};
std::atomic<LogFormat> stderr_format{LogFormat::text};
std::mutex output_mutex;

struct Level {
  std::string_view word;
  int priority;  // syslog(3): 3 err, 4 warning, 6 info, 7 debug
};
constexpr Level kLevels[] = {{"error", 3}, {"warning", 4}, {"info", 6}, {"debug", 7}};

// Whole lines of each thread go out framed; std::cerr's flush after every insertion
// (unitbuf) must not cut a line, so partial lines wait in the writing thread's buffer.
class FramingBuf final : public std::streambuf {
 protected:
  int_type overflow(int_type c) override {
    if (c == traits_type::eof()) return traits_type::not_eof(c);
    char ch = traits_type::to_char_type(c);
    xsputn(&ch, 1);
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    thread_local std::string pending;
    pending.append(s, std::size_t(n));
    for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      std::string out = framed_line(stderr_format.load(), std::string_view(pending).substr(0, nl));
      out += '\n';
      pending.erase(0, nl + 1);
      std::lock_guard lock(output_mutex);
      std::fwrite(out.data(), 1, out.size(), stderr);
    }
    return n;
  }
};

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

std::string framed_line(LogFormat format, std::string_view line) {
  if (format == LogFormat::text) return std::string(line);
  std::string_view rest = line;
  if (rest.substr(0, 6) == "qkvd: ") rest.remove_prefix(6);
  Level level = kLevels[2];
  for (const auto& l : kLevels)
    if (rest.size() > l.word.size() + 1 && rest.substr(0, l.word.size()) == l.word &&
        rest.substr(l.word.size(), 2) == ": ") {
      level = l;
      rest.remove_prefix(l.word.size() + 2);
      break;
    }
  if (format == LogFormat::syslog) {
    std::string out = "<";
    out += std::to_string(level.priority);
    out += '>';
    out.append(line);
    return out;
  }
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char stamp[64];
  std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", int(ms % 1000));
  return nlohmann::json{
      {"time", stamp}, {"priority", level.priority}, {"level", level.word}, {"message", rest}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void frame_stderr(LogFormat format) {
  stderr_format.store(format);
  if (format == LogFormat::text) return;
  static FramingBuf buf;
  std::cerr.rdbuf(&buf);
}

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
    line = framed_line(stderr_format.load(), line);
    line += '\n';
    std::lock_guard lock(output_mutex);
    std::fwrite(line.data(), 1, line.size(), stderr);
  } catch (...) {
    // Logging never throws into a plugin.
  }
}

}  // namespace qkv::host
