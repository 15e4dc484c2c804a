#include "crash/signal_stack.hpp"

#include <signal.h>
#include <sys/mman.h>

#include <cstddef>

namespace qkv::crash {
namespace {

// The handler formats one record into a 1 KiB buffer; the kernel's signal frame with AVX-512
// state is a few KiB. 64 KiB leaves a wide margin.
constexpr std::size_t kStackBytes = 64 * 1024;

class ThreadSignalStack {
 public:
  ThreadSignalStack() noexcept {
    stack_t current{};
    if (::sigaltstack(nullptr, &current) != 0 || !(current.ss_flags & SS_DISABLE)) return;
    void* p =
        ::mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    stack_t ours{};
    ours.ss_sp = p;
    ours.ss_size = kStackBytes;
    if (::sigaltstack(&ours, nullptr) != 0) {
      ::munmap(p, kStackBytes);
      return;
    }
    memory_ = p;
  }
  ~ThreadSignalStack() {
    if (!memory_) return;
    stack_t current{};
    // Unmapped only while it is still this thread's stack and not in use.
    if (::sigaltstack(nullptr, &current) != 0 || current.ss_sp != memory_ ||
        (current.ss_flags & SS_ONSTACK))
      return;
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    if (::sigaltstack(&off, nullptr) == 0) ::munmap(memory_, kStackBytes);
  }
  ThreadSignalStack(const ThreadSignalStack&) = delete;
  ThreadSignalStack& operator=(const ThreadSignalStack&) = delete;

 private:
  void* memory_ = nullptr;
};

}  // namespace

void ensure_signal_stack() noexcept { thread_local ThreadSignalStack stack; }

}  // namespace qkv::crash
