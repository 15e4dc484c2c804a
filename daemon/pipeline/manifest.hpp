// The manifest of a job's outputs (docs/formats.md): no timings, so re-runs give equal bytes.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "config/pipeline_config.hpp"
#include "io/inputs.hpp"
#include "pipeline/job.hpp"

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

}  // namespace qkv::pipeline::detail
