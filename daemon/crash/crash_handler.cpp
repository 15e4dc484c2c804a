#include "crash/crash_handler.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "crash/crash_record.hpp"

namespace qkv::crash {
namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
volatile int record_fd = -1;

void on_fatal(int sig, siginfo_t*, void*) {
  const int saved = errno;
  char buf[1024];
  const std::size_t n = format_record(buf, sizeof buf, sig, current_slot());
  std::size_t done = 0;
  while (done < n) {
    ssize_t w = ::write(record_fd, buf + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    done += std::size_t(w);
  }
  ::fsync(record_fd);
  // Default action, then the same signal again: it is delivered when this handler returns (a
  // fault re-executes the faulting instruction anyway), and the process dies of it.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  ::raise(sig);
  errno = saved;
}

}  // namespace

void install_crash_handler(int fd) {
  record_fd = fd;
  struct sigaction sa {};
  sa.sa_sigaction = on_fatal;
  // SA_ONSTACK: on a thread with an alternate stack (crash/signal_stack.hpp) the handler
  // runs even when the fault is a stack overflow.
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  // The other fatal signals wait while one record is written (two threads crashing at once).
  for (int s : kSignals) sigaddset(&sa.sa_mask, s);
  for (int s : kSignals)
    if (::sigaction(s, &sa, nullptr) != 0)
      throw std::system_error(errno, std::generic_category(), "sigaction");
}

}  // namespace qkv::crash
