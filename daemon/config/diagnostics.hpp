// Config errors that point at the line: every problem found while validating a YAML file is
// collected (not just the first) as "file:line:column: key.path: expected ...".
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace qkv::config {

struct Diagnostic {
  std::string where;    // "file:line:column", or "--set key.path" for command-line overrides
  std::string key;      // dotted key path, e.g. "tokenizer.max_length"; empty for the file
  std::string message;  // "expected ...", always says what would be accepted
  std::string str() const;
};

// Thrown by the loaders when at least one diagnostic was found; what() lists them all.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<Diagnostic> diagnostics);
  const std::vector<Diagnostic>& diagnostics() const noexcept { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

std::string join(const std::vector<Diagnostic>& diagnostics);

}  // namespace qkv::config
