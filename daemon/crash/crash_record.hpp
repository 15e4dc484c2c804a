// A crash record: what the crash handler (crash/crash_handler.hpp) writes when a fatal signal
// hits qkvd, one line per crash:
//   qkv-crash 1 signal=<n> owner=<len>:<bytes> pipeline=<len>:<bytes> plugin=<len>:<bytes>
//   call=<len>:<bytes>
// Length-prefixed fields carry any bytes. The owner is a job id, or "inline:<key>" for an
// inline request (crash/quarantine.hpp); empty when the crashing thread worked for no one.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "crash/call_slot.hpp"

namespace qkv::crash {

struct Record {
  std::string source;  // the record file it came from (recovery applies each file once)
  int signal = 0;
  std::string owner, pipeline, plugin, call;
};

// "SIGSEGV", "SIGABRT"... ("signal N" for others). Not for the handler (it writes numbers).
std::string signal_name(int sig);

// Formats the record of `sig` on a thread with `slot` into `buf`; returns the length (the line
// is cut, still ending in '\n', when `cap` is too small). Async-signal-safe: no allocation, no
// locale, no stdio.
std::size_t format_record(char* buf, std::size_t cap, int sig, const Slot& slot) noexcept;

// The records in `text` (a record file's bytes); a torn last line is skipped.
std::vector<Record> parse_records(std::string_view text, const std::string& source);

// "SIGSEGV in plugin 'x' (encode)" / "SIGSEGV in qkvd itself": for reports and logs.
std::string describe(const Record& r);

}  // namespace qkv::crash
