// After a crash, an interrupted job may have left hidden temporary output files
// (".<name>.tmp-<pid>-..." next to its output, see daemon/io/atomic_file). Recovery removes
// those whose writer process is gone, so no partial file stays behind.
#pragma once

#include <cstddef>
#include <string>

namespace qkv::jobs {

// Removes ".<stem>*.tmp-<pid>-*" files in the output's folder whose <pid> is not a live
// process. Returns how many were removed; never throws.
std::size_t remove_stale_temps(const std::string& output) noexcept;

}  // namespace qkv::jobs
