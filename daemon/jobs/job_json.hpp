// JSON forms of jobs: the job request (socket `submit`, spool job files, `run`) parsed into a
// JobSpec, and the job view used by `status`, `wait`, `list` and the spool reports.
// Field names and error codes are documented in docs/protocol.md.
#pragma once

#include <nlohmann/json.hpp>

#include "jobs/job_record.hpp"
#include "protocol/job_fields.hpp"

namespace qkv::jobs {

using json = nlohmann::json;

using protocol::JobKind;

// The JobSpec of a request's job fields; `default_pipeline` fills an absent `pipeline`.
// Throws JobError(bad_request) when there is no pipeline either way.
pipeline::JobSpec to_job_spec(protocol::JobFields fields, const std::string& default_pipeline);
// Reads the job fields of a request object (protocol::parse_job_fields: throws JobError
// naming the field), then to_job_spec. Paths are taken as given (PathPolicy checks them).
pipeline::JobSpec parse_job_fields(const json& request, JobKind kind,
                                   const std::string& default_pipeline);

// The job view: id, state, pipeline, paths, submitter, progress, times, result or error.
// `final` gives the outcome before the record itself has ended (the spool report is written
// before waiters are told).
json job_view(const JobRecord& job, const JobOutcome* final = nullptr);
json progress_json(const pipeline::JobProgress& p);
json result_json(const pipeline::JobResult& r);
// A UTC calendar time with milliseconds: what iso_time and job ids are spelled from.
struct UtcTime {
  int year, month, day, hour, minute, second, millisecond;
};
UtcTime utc_time(Clock::time_point t);
std::string iso_time(Clock::time_point t);

// A report (or any spool JSON) as text that always serializes: JSON strings carry no raw bytes,
// so each byte that is not UTF-8 in a string or key (a file name, an input byte quoted in a
// message) becomes the visible text "\xNN"; valid text is unchanged. Never throws on content.
std::string report_text(const json& report, int indent = 2);

}  // namespace qkv::jobs
