// The conformance report: checks are grouped in named classes ("causal-mask", "concurrency",
// ...), run in order; the run stops at the first class that fails, and says which.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::conformance {

// Collects the failures of one class of checks.
class Checker {
 public:
  void fail(std::string message);
  // Records `message` when !ok; returns ok.
  bool expect(bool ok, const std::string& message);
  void count_case() noexcept { ++cases_; }
  size_t cases() const noexcept { return cases_; }
  size_t failures() const noexcept { return failures_; }
  const std::vector<std::string>& messages() const noexcept { return messages_; }
  // Skips the class (not applicable), with the reason printed.
  void skip(std::string reason) { skipped_ = std::move(reason); }
  const std::string& skipped() const noexcept { return skipped_; }

 private:
  size_t cases_ = 0;
  size_t failures_ = 0;
  std::vector<std::string> messages_;  // the first few, for the report
  std::string skipped_;
};

class Report {
 public:
  explicit Report(std::ostream& out) : out_(out) {}

  // Runs one class unless an earlier one failed; exceptions from `body` are failures. Returns
  // true when the class passed (or was skipped).
  bool run(std::string_view name, std::string_view what, const std::function<void(Checker&)>& body);

  bool failed() const noexcept { return !first_failure_.empty(); }
  const std::string& first_failure() const noexcept { return first_failure_; }
  // Prints the closing line ("conformance: PASSED ..." or "conformance: FAILED: <class>").
  int finish(std::string_view subject);

 private:
  std::ostream& out_;
  std::string first_failure_;
  size_t passed_ = 0, skipped_ = 0;
};

}  // namespace qkv::conformance
