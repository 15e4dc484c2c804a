// The one-line progress bar qkvctl wait and qkvd run redraw on a terminal.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "io/human_bytes.hpp"

namespace qkv::io {

// "\r\033[K<state> [#####.....]  42%  1234 docs  1.2 MB/3.0 MB  <what>": returns to the line's
// start and clears it first. `fraction` < 0: unknown; `bytes_total` 0: unknown.
inline std::string progress_bar(std::string_view state, double fraction, uint64_t documents,
                                double bytes_done, double bytes_total, std::string_view what) {
  constexpr int width = 30;
  int fill = fraction < 0 ? 0 : std::clamp(int(fraction * width + 0.5), 0, width);
  std::string bar(std::size_t(fill), '#');
  bar.resize(width, '.');
  std::string size = bytes_total > 0 ? human_bytes(bytes_done) + "/" + human_bytes(bytes_total)
                                     : human_bytes(bytes_done);
  char buf[512];
  std::snprintf(buf, sizeof buf, "\r\033[K%-8.*s [%s] %3.0f%%  %llu docs  %s  %.*s",
                int(state.size()), state.data(), bar.c_str(), fraction < 0 ? 0.0 : fraction * 100,
                static_cast<unsigned long long>(documents), size.c_str(),
                int(std::min<std::size_t>(what.size(), 200)), what.data());
  return buf;
}

}  // namespace qkv::io
