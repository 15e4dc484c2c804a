#include "jobs/job_json.hpp"

#include <cstdio>
#include <ctime>

#include "io/utf8.hpp"
#include "jobs/job_error.hpp"

namespace qkv::jobs {

pipeline::JobSpec to_job_spec(protocol::JobFields fields, const std::string& default_pipeline) {
  pipeline::JobSpec spec;
  spec.pipeline = fields.pipeline.value_or(default_pipeline);
  if (spec.pipeline.empty())
    throw JobError(code::bad_request,
                   "field 'pipeline': expected a pipeline name (no default_pipeline configured)");
  spec.inputs = std::move(fields.inputs);
  spec.output = std::move(fields.output);
  spec.texts = std::move(fields.texts);
  for (auto& [key, value] : fields.set) spec.overrides.emplace_back(key, std::move(value));
  spec.decode = fields.decode;
  spec.threads = fields.threads;
  if (fields.slice)
    spec.slice =
        pipeline::InputSlice{fields.slice->begin, fields.slice->end, fields.slice->first_document};
  return spec;
}

pipeline::JobSpec parse_job_fields(const json& request, JobKind kind,
                                   const std::string& default_pipeline) {
  return to_job_spec(protocol::parse_job_fields(request, kind), default_pipeline);
}

namespace {

std::string escape_bytes(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  static const char hex[] = "0123456789abcdef";
  while (!s.empty()) {
    size_t bad = 0;
    size_t ok = io::utf8_sequence(s, &bad);
    if (ok) {
      out.append(s.substr(0, ok));
      s.remove_prefix(ok);
      continue;
    }
    for (size_t i = 0; i < bad; ++i) {
      auto c = static_cast<unsigned char>(s[i]);
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
    s.remove_prefix(bad);
  }
  return out;
}

json escaped(const json& j) {
  switch (j.type()) {
    case json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      return io::utf8_valid(s) ? j : json(escape_bytes(s));
    }
    case json::value_t::array: {
      json out = json::array();
      for (auto& e : j) out.push_back(escaped(e));
      return out;
    }
    case json::value_t::object: {
      json out = json::object();
      for (auto& [k, v] : j.items()) out[io::utf8_valid(k) ? k : escape_bytes(k)] = escaped(v);
      return out;
    }
    default:
      return j;
  }
}

}  // namespace

std::string report_text(const json& report, int indent) { return escaped(report).dump(indent); }

UtcTime utc_time(Clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,    tm.tm_hour,
          tm.tm_min,         tm.tm_sec,     int(ms % 1000)};
}

std::string iso_time(Clock::time_point t) {
  const UtcTime u = utc_time(t);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", u.year, u.month, u.day,
                u.hour, u.minute, u.second, u.millisecond);
  return buf;
}

json progress_json(const pipeline::JobProgress& p) {
  uint64_t dd = p.documents_done.load(), dt = p.documents_total.load();
  uint64_t bd = p.bytes_done.load(), bt = p.bytes_total.load();
  json j = {
      {"documents_done", dd}, {"documents_total", dt}, {"bytes_done", bd}, {"bytes_total", bt}};
  // Generation jobs (docs/protocol.md): tokens generated so far, once there are any.
  if (const uint64_t g = p.generated_tokens.load()) j["generated_tokens"] = g;
  // Bytes are known up front for files; documents only for inline texts.
  if (bt)
    j["fraction"] = std::min(1.0, double(bd) / double(bt));
  else if (dt)
    j["fraction"] = std::min(1.0, double(dd) / double(dt));
  return j;
}

json result_json(const pipeline::JobResult& r) {
  json j = {{"documents", r.documents}, {"tokens", r.tokens},     {"input_bytes", r.input_bytes},
            {"truncated", r.truncated}, {"rejected", r.rejected}, {"seconds", r.seconds},
            {"outputs", r.outputs}};
  if (r.generated_tokens) j["generated_tokens"] = r.generated_tokens;
  return j;
}

json job_view(const JobRecord& job, const JobOutcome* final) {
  const pipeline::JobSpec& s = job.spec();
  auto times = job.times();
  auto outcome = final ? std::optional<JobOutcome>(*final) : job.outcome();
  if (final && !times.ended) times.ended = Clock::now();
  json j;
  j["id"] = job.id();
  j["state"] = to_string(outcome ? outcome->state : job.state());
  j["pipeline"] = s.pipeline;
  if (!s.texts.empty())
    j["texts"] = s.texts.size();
  else
    j["inputs"] = s.inputs;
  if (!s.output.empty()) j["output"] = s.output;
  if (s.decode) j["decode"] = true;
  j["submitted_by"] = protocol::submitted_by(job.submitter());
  j["progress"] = progress_json(job.progress());
  j["submitted_at"] = iso_time(times.submitted);
  if (times.started) {
    j["started_at"] = iso_time(*times.started);
    j["queue_seconds"] = std::chrono::duration<double>(*times.started - times.submitted).count();
  }
  if (times.ended) {
    j["ended_at"] = iso_time(*times.ended);
    if (times.started)
      j["run_seconds"] = std::chrono::duration<double>(*times.ended - *times.started).count();
  }
  if (outcome) {
    if (outcome->state == JobState::done) j["result"] = result_json(outcome->result);
    if (!outcome->error_code.empty())
      j["error"] = {{"code", outcome->error_code}, {"message", outcome->error_message}};
  }
  return j;
}

}  // namespace qkv::jobs
