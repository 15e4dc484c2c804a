// qkv plugin SDK: the one range check of position ids, header-only. The host runs it before a
// positional call crosses the ABI (negative ids) and positional plugins run it against their
// table (ids past max_positions), so every side words the error the same way.
#ifndef QKV_POSITIONS_HPP
#define QKV_POSITIONS_HPP

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

namespace qkv::sdk {

// Empty when every position lies in [0, max_positions) (max_positions 0: unbounded), else what
// the first one outside is: "position P of token T is negative" or "... is outside [0, N)".
inline std::string positions_error(std::span<const int32_t> positions, int64_t max_positions) {
  for (size_t t = 0; t < positions.size(); ++t) {
    const int32_t p = positions[t];
    // Runs once per token of every positional call: text is made only for the one reported.
    if (p >= 0 && (max_positions <= 0 || p < max_positions)) continue;
    const std::string which = "position " + std::to_string(p) + " of token " + std::to_string(t);
    if (p < 0) return which + " is negative";
    if (max_positions > 0 && p >= max_positions)
      return which + " is outside [0, " + std::to_string(max_positions) + ")";
  }
  return {};
}

// Throws std::out_of_range with positions_error's text (qkv::sdk's trampolines turn it into
// QKV_ERR_OUT_OF_RANGE); `table` names what bounds them, e.g. "the learned table 'wpe'".
inline void check_positions(std::span<const int32_t> positions, int64_t max_positions,
                            const std::string& table = {}) {
  std::string e = positions_error(positions, max_positions);
  if (e.empty()) return;
  if (!table.empty()) e += " (" + table + ")";
  throw std::out_of_range(e);
}

}  // namespace qkv::sdk

#endif  // QKV_POSITIONS_HPP
