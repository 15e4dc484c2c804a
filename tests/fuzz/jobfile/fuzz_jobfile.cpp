// libFuzzer target: the spool's job-file path (daemon/jobs/spool_source.cpp load()): the bytes
// of a file in incoming/ parsed as JSON, then as job fields (jobs::parse_job_fields), then the
// job's report: the job view when it parses, the failure report (as fail_unclaimed writes it)
// when it does not. Every file must give a job or an error with a documented code, and the
// report must always serialize (jobs::report_text, what the spool writes) into valid JSON: a
// report that cannot be written leaves the job in active/. The seed
// corpus/report-non-utf8-literal quotes a non-UTF-8 byte in the error message.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "jobs/job_error.hpp"
#include "jobs/job_json.hpp"
#include "protocol/error_codes.hpp"
#include "protocol/identity.hpp"

namespace jobs = qkv::jobs;
using nlohmann::json;

namespace {

bool documented(std::string_view code) {
  for (auto c : qkv::protocol::code::all)
    if (c == code) return true;
  return false;
}

// The report must serialize as spool.cpp writes it, and read back as JSON.
void expect_writable(const json& report) {
  const std::string text = jobs::report_text(report);
  if (!json::accept(text)) __builtin_trap();
}

void expect_failure_report(const std::string& code, const std::string& message) {
  if (!documented(code) || message.empty()) __builtin_trap();
  expect_writable({{"id", "fuzz"},
                   {"state", "failed"},
                   {"file", "fuzz.json"},
                   {"submitted_by", {{"uid", 0}, {"via", "spool"}}},
                   {"ended_at", jobs::iso_time(jobs::Clock::now())},
                   {"error", {{"code", code}, {"message", message}}}});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  json request;
  try {
    request = json::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const json::exception& e) {
    expect_failure_report("bad_json", std::string("job file is not valid JSON: ") + e.what());
    return 0;
  }
  qkv::pipeline::JobSpec spec;
  try {
    spec = jobs::parse_job_fields(request, jobs::JobKind::file, "tokenize-gpt2");
  } catch (const jobs::JobError& e) {
    expect_failure_report(e.code(), e.what());
    return 0;
  }
  if (spec.pipeline.empty()) __builtin_trap();
  jobs::Submitter spool_user;
  spool_user.via = qkv::protocol::via::spool;
  jobs::JobRecord record("fuzz", std::move(spec), spool_user, nullptr);
  expect_writable(jobs::job_view(record));
  return 0;
}
