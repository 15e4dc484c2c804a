// Idempotent submits (docs/protocol.md, `request_id`): a submitter's retry with the same
// request_id and body gets the job of the first submit. What makes two submits "the same": the
// submitter's owner and the body without envelope fields. Shared by the local spool and the
// Redis source (jobs/redis/).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "jobs/job_record.hpp"

namespace qkv::jobs {

// The request's `request_id` when it is a string, else nullptr.
const std::string* request_id_of(const nlohmann::json& request);
// The owner of a request_id: "token:<token>" over TCP, else "uid:<uid>" (not the connection's pid).
std::string request_owner(const Submitter& who);
// The sha256 of the body without v, tag, op, submitted_by and request_id.
std::string request_body_sha256(const nlohmann::json& request);

}  // namespace qkv::jobs
