// The fields of a job as the protocol carries them. A `submit` request, a spool job file (the
// same object) and an inline `run` share them (docs/protocol.md, "submit" and "run"); the
// daemon turns them into a JobSpec (jobs/job_json.hpp), qkvctl fills them from its options.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qkv::protocol {

// A shard's part of its inputs (docs/protocol.md "Sharded jobs"; jobs/shard_plan.hpp writes it):
// from byte `begin` of the first input to byte `end` of the last.
struct SliceFields {
  uint64_t begin = 0;
  uint64_t end = UINT64_MAX;  // absent on the wire: to the end of the last input
  std::optional<uint64_t> first_document;
  bool operator==(const SliceFields&) const = default;
};

struct JobFields {
  std::optional<std::string> pipeline;     // name or path; absent: the daemon's default_pipeline
  std::vector<std::string> inputs;         // file jobs: paths or globs
  std::string output;                      // file jobs
  std::vector<std::string> texts;          // inline runs
  std::map<std::string, std::string> set;  // pipeline overrides, "key.path" -> value
  bool decode = false;                     // ids -> text
  std::optional<unsigned> threads;         // 1..4096: a private arena of that size
  std::optional<SliceFields> slice;        // shards of a sharded job only

  bool operator==(const JobFields&) const = default;
};

enum class JobKind { file, inline_texts };

// Reads and type-checks the job fields of a request object. Throws protocol::Error
// (bad_request) naming the field on a wrong type or a missing required field (`inputs` and
// `output` for file jobs, `texts` for inline runs). Unknown fields are ignored; paths are
// taken as given (the daemon checks them). A non-string `set` value keeps its JSON text.
JobFields parse_job_fields(const nlohmann::json& object, JobKind kind);

// The wire form: writes the fields that are set into `object` (which keeps its other keys).
void write_job_fields(nlohmann::json& object, const JobFields& fields);

}  // namespace qkv::protocol
