// The fatal-signal handler: on SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT it writes the crashing
// thread's slot (crash/call_slot.hpp) as a crash record (crash/crash_record.hpp) to a file
// descriptor opened beforehand, fsyncs it, restores the default action and re-raises, so the
// process still dies with the signal (and dumps core where configured). Only async-signal-safe
// calls. A stack overflow inside a plugin call is covered too: every thread that calls a
// plugin has an alternate signal stack (crash/signal_stack.hpp). One outside any plugin call
// on a thread without one dies without a record and blames no one.
#pragma once

namespace qkv::crash {

// Installs the handler for the five signals, writing to `fd` (kept open by the caller for the
// rest of the process). Throws std::system_error when sigaction fails.
void install_crash_handler(int fd);

}  // namespace qkv::crash
