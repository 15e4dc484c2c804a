// Inline requests that crashed qkvd: refused with code `suspect` for
// limits.crash_quarantine_seconds, so one request cannot take the daemon down at will. A
// request is known by its key (pipeline + `set` + sha256 of the texts, inline_key); the crash
// record names it as owner "inline:<key>" (crash/crash_log.hpp). Kept as files <dir>/<key>
// (their mtime is the start of the quarantine), so a restart remembers them.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/directory.hpp"

namespace qkv::crash {

inline constexpr std::string_view kInlineOwnerPrefix = "inline:";

// The key of an inline request: sha256 over the pipeline, its `set` overrides and the texts,
// each length-prefixed (so no two different requests share a serialization).
std::string inline_key(std::string_view pipeline,
                       const std::vector<std::pair<std::string, std::string>>& overrides,
                       const std::vector<std::string>& texts);

class Quarantine {
 public:
  // Loads the quarantined keys from `dir` (created), dropping expired ones.
  Quarantine(std::filesystem::path dir, std::chrono::seconds period);

  // Refuses `key` from now on for the period (durably).
  void add(const std::string& key);
  bool refuses(std::string_view key) const;
  std::chrono::seconds period() const noexcept { return period_; }

 private:
  using Clock = std::chrono::system_clock;
  io::Directory dir_;
  const std::chrono::seconds period_;
  mutable std::mutex mutex_;
  std::map<std::string, Clock::time_point, std::less<>> since_;
};

}  // namespace qkv::crash
