// The fatal-signal handler: on SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT it writes the crashing
// thread's slot (crash/call_slot.hpp) as a crash record (crash/crash_record.hpp) to a file
// descriptor opened beforehand, fsyncs it, restores the default action and re-raises, so the
// process still dies with the signal (and dumps core where configured). Only async-signal-safe
// calls. Not covered: a stack overflow (no alternate stack on the oneTBB workers), which then
// dies without a record and blames no one.
#pragma once

namespace qkv::crash {

// Installs the handler for the five signals, writing to `fd` (kept open by the caller for the
// rest of the process). Throws std::system_error when sigaction fails.
void install_crash_handler(int fd);

}  // namespace qkv::crash
