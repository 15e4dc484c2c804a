// The spool's owner lock: flock(LOCK_EX|LOCK_NB) on <spool>/lock, held for the daemon's life,
// so a second qkvd on the same spool refuses to start instead of re-running the first one's
// jobs as if they had crashed. The file holds the holder's pid, for the refusal message. The
// lock goes with the process (kill -9 included): nothing stale to clean up.
#pragma once

#include <filesystem>

#include "io/directory.hpp"

namespace qkv::jobs {

class SpoolLock {
 public:
  // Creates the spool folder if needed and takes the lock. Throws std::runtime_error naming
  // the spool and the holder's pid when another process holds it.
  explicit SpoolLock(const std::filesystem::path& spool);

 private:
  io::UniqueFd fd_;
};

}  // namespace qkv::jobs
