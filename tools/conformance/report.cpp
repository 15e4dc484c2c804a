#include "report.hpp"

#include <exception>

namespace qkv::conformance {

namespace {
constexpr size_t kShownMessages = 5;
}

void Checker::fail(std::string message) {
  if (failures_++ < kShownMessages) messages_.push_back(std::move(message));
}

bool Checker::expect(bool ok, const std::string& message) {
  if (!ok) fail(message);
  return ok;
}

bool Report::run(std::string_view name, std::string_view what,
                 const std::function<void(Checker&)>& body) {
  if (failed()) return false;
  Checker c;
  try {
    body(c);
  } catch (const std::exception& e) {
    c.fail(std::string("stopped by an error: ") + e.what());
  }
  if (c.failures() == 0 && !c.skipped().empty()) {
    ++skipped_;
    out_ << "[SKIP] " << name << ": " << c.skipped() << "\n";
    return true;
  }
  if (c.failures() == 0) {
    ++passed_;
    out_ << "[PASS] " << name << ": " << what << " (" << c.cases() << " cases)\n";
    return true;
  }
  first_failure_ = name;
  out_ << "[FAIL] " << name << ": " << what << "\n";
  for (const auto& m : c.messages()) out_ << "       - " << m << "\n";
  if (c.failures() > c.messages().size())
    out_ << "       ... and " << (c.failures() - c.messages().size()) << " more\n";
  out_.flush();
  return false;
}

int Report::finish(std::string_view subject) {
  if (failed()) {
    out_ << "conformance: FAILED: " << first_failure_ << " (" << subject
         << "; later classes not run)\n";
    return 1;
  }
  out_ << "conformance: PASSED: " << subject << " (" << passed_ << " classes passed, " << skipped_
       << " skipped)\n";
  return 0;
}

}  // namespace qkv::conformance
