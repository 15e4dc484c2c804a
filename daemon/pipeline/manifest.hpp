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

nlohmann::json make_manifest(const config::PipelineConfig& pipeline,
                             const std::vector<io::InputFile>& inputs, const JobResult& result,
                             const std::string& dtype, bool decode = false);

}  // namespace qkv::pipeline::detail
