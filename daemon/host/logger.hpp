// A small thread-safe stderr logger for the host and for plugins' qkv_host.log calls.
#pragma once

#include <qkv/abi.h>

#include <string>
#include <string_view>

namespace qkv::host {

// Messages below this level are dropped (default: INFO).
void set_log_level(qkv_log_level level) noexcept;
qkv_log_level log_level() noexcept;

// One line on stderr: "qkvd: <level>: [<source>] <message>".
void log_message(qkv_log_level level, std::string_view source, std::string_view message) noexcept;

// How qkvd's stderr lines look (daemon config `log_format`, docs/service.md):
//   text    as written: "qkvd: warning: ..." (a terminal, a plain file);
//   syslog  each line with its syslog priority first, "<4>qkvd: warning: ...", which journald
//           reads as the entry's priority (the default when $JOURNAL_STREAM says stderr is
//           the journal);
//   json    one object per line: {"time", "priority", "level", "message"}.
// A line's level is the word after "qkvd: " (error, warning, info, debug); none is info.
enum class LogFormat { text, syslog, json };
std::string framed_line(LogFormat format, std::string_view line);
// From now on every whole line written to std::cerr (by any thread) and by log_message goes
// out framed in `format`, each line in one write. text: nothing changes.
void frame_stderr(LogFormat format);

}  // namespace qkv::host
