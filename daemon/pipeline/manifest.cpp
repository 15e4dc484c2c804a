#include "pipeline/manifest.hpp"

namespace qkv::pipeline::detail {

nlohmann::json make_manifest(const config::PipelineConfig& pipeline,
                             const std::vector<io::InputFile>& inputs, const JobResult& result,
                             const std::string& dtype, bool decode) {
  nlohmann::json in = nlohmann::json::array();
  for (const auto& f : inputs) in.push_back({{"path", f.path.string()}, {"bytes", f.size}});
  nlohmann::json m;
  m["format_version"] = kFormatVersion;
  m["pipeline"] = pipeline.name;
  m["direction"] = decode ? "decode" : "encode";
  m["inputs"] = std::move(in);
  m["documents"] = result.documents;
  m["tokens"] = result.tokens;
  m["truncated_documents"] = result.truncated;
  m["dtype"] = dtype;
  return m;
}

}  // namespace qkv::pipeline::detail
