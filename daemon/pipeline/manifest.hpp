// The manifest of a job's outputs (docs/formats.md): no timings, so re-runs give equal bytes.
#pragma once

#include <nlohmann/json.hpp>

#include <span>
#include <string>
#include <vector>

#include "config/pipeline_config.hpp"
#include "io/inputs.hpp"
#include "pipeline/job.hpp"
#include "pipeline/tokenizer.hpp"

namespace qkv::pipeline::detail {

constexpr int kFormatVersion = 1;

// sha256 over what defines a job's outputs: pipeline, inputs, output, set overrides, direction.
std::string spec_sha256(const JobSpec& spec);

// The manifest's `job_id` (the spec's id; absent for qkvd run) and `spec_sha256` (spec_sha256)
// let recovery tell a finished job's outputs from a half-done or foreign one (jobs/spool.cpp).
// `qkv_version`, `set` (the overrides) and `tokenizer.plugin` say what produced the outputs.
nlohmann::json make_manifest(const JobSpec& spec, const config::PipelineConfig& pipeline,
                             const std::vector<io::InputFile>& inputs, const JobResult& result,
                             const std::string& dtype, bool decode = false);

// The manifest's "tokenizer": {"plugin", "version", "files": {key: {"path", "sha256"}}} (the
// pipeline's plugin name for a tokenizer that does not say).
nlohmann::json tokenizer_json(const Tokenizer& tokenizer, const config::PipelineConfig& pipeline);

// Adds "documents": [first, end) to each of manifest["inputs"]: the job-wide numbers of the
// documents (output rows) that input gave, in order (a skipped record gives none).
void add_document_ranges(nlohmann::json& manifest, std::span<const uint64_t> documents_per_input);

// --decode: the manifest beside an ids input (`recorded`, written when the ids were made)
// against the decoding pipeline's tokenizer. Throws JobFailed naming `input`, both plugins or
// the file whose sha256 differs, when they disagree: another vocabulary would decode the ids
// into other text without any error. The plugin's version is not compared (a newer plugin
// decodes the same vocabulary the same way); a manifest without "tokenizer" (or of a decode
// job) is not checked.
void check_decode_identity(const nlohmann::json& recorded, const TokenizerIdentity& ours,
                           const std::string& input);

}  // namespace qkv::pipeline::detail
