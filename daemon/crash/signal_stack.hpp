// An alternate signal stack for each thread that calls plugins, so a stack overflow in a plugin
// (the fault is on the exhausted stack itself) still runs the crash handler
// (crash/crash_handler.hpp) and leaves a crash record that blames the job it worked for.
#pragma once

namespace qkv::crash {

// Gives this thread an alternate signal stack unless it has one (a sanitizer's, or ours); freed
// when the thread exits. Cheap after the first call on a thread. Never throws: without memory
// for it, a stack overflow simply dies without a record, as before.
void ensure_signal_stack() noexcept;

}  // namespace qkv::crash
