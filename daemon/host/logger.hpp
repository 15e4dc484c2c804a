// A small thread-safe stderr logger for the host and for plugins' qkv_host.log calls.
#pragma once

#include <qkv/abi.h>

#include <string_view>

namespace qkv::host {

// Messages below this level are dropped (default: INFO).
void set_log_level(qkv_log_level level) noexcept;
qkv_log_level log_level() noexcept;

// One line on stderr: "qkvd: <level>: [<source>] <message>".
void log_message(qkv_log_level level, std::string_view source, std::string_view message) noexcept;

}  // namespace qkv::host
