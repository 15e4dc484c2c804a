#include "diagnostics.hpp"

namespace qkv::config {

std::string Diagnostic::str() const {
  std::string out = where;
  // An override's location already names its key.
  if (!key.empty() && where.rfind("--set ", 0) != 0) out += ": " + key;
  out += ": " + message;
  return out;
}

std::string join(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) {
    if (!out.empty()) out += '\n';
    out += d.str();
  }
  return out;
}

ConfigError::ConfigError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(join(diagnostics)), diagnostics_(std::move(diagnostics)) {}

}  // namespace qkv::config
