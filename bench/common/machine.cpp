// Reads /proc/cpuinfo once for the benchmarks' machine header (see machine.hpp).
#include "machine.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "fma_peak.hpp"

namespace qkv::bench {

namespace {

// The value of the first "key : value" line of /proc/cpuinfo with this key.
std::string cpuinfo_field(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto start = line.find_first_not_of(' ', colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "";
}

}  // namespace

std::string cpu_model() {
  const std::string m = cpuinfo_field("model name");
  return m.empty() ? "unknown CPU" : m;
}

std::string simd_flags() {
  std::istringstream flags(cpuinfo_field("flags"));
  std::string out;
  for (std::string f; flags >> f;)
    if (f == "sse4_2" || f == "avx" || f == "avx2" || f == "fma" || f.rfind("avx512", 0) == 0 ||
        f == "vaes" || f == "vpclmulqdq" || f == "gfni")
      out += (out.empty() ? "" : " ") + f;
  return out.empty() ? "(none of sse4_2/avx/avx2/fma/avx512*)" : out;
}

void print_machine() {
  std::printf("CPU: %s\n", cpu_model().c_str());
  std::printf("ISA flags: %s\n", simd_flags().c_str());
  std::printf("FMA peak loop SIMD target (the widest this build runs here): %s\n",
              fma_peak_target());
}

}  // namespace qkv::bench
