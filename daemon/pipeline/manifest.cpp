#include "pipeline/manifest.hpp"

#include "io/sha256.hpp"

namespace qkv::pipeline::detail {

std::string spec_sha256(const JobSpec& spec) {
  nlohmann::json set = nlohmann::json::array();
  for (const auto& [k, v] : spec.overrides) set.push_back({k, v});
  nlohmann::json canonical = {{"pipeline", spec.pipeline},
                              {"inputs", spec.inputs},
                              {"output", spec.output},
                              {"set", set},
                              {"decode", spec.decode}};
  if (spec.slice)  // a shard's outputs are those of its byte range only
    canonical["slice"] = {{"begin", spec.slice->begin},
                          {"end", spec.slice->end},
                          {"first_document", spec.slice->first_document.value_or(0)}};
  io::Sha256 h;
  h.update(canonical.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return h.hex();
}

nlohmann::json make_manifest(const JobSpec& spec, const config::PipelineConfig& pipeline,
                             const std::vector<io::InputFile>& inputs, const JobResult& result,
                             const std::string& dtype, bool decode) {
  nlohmann::json in = nlohmann::json::array();
  for (const auto& f : inputs) {
    in.push_back({{"path", f.path.string()}, {"bytes", f.size}});
    if (f.ranged())  // a shard read only this byte range (jobs/shard_plan.hpp)
      in.back()["range"] = {f.begin, f.end == io::kToEnd ? f.size : f.end};
  }
  nlohmann::json m;
  m["format_version"] = kFormatVersion;
  if (!spec.id.empty()) m["job_id"] = spec.id;
  m["spec_sha256"] = spec_sha256(spec);
  m["qkv_version"] = QKV_VERSION;
  m["pipeline"] = pipeline.name;
  // The --set overrides in their order (a later one of a key wins), as given.
  nlohmann::json set = nlohmann::json::array();
  for (const auto& [k, v] : spec.overrides) set.push_back({{"key", k}, {"value", v}});
  m["set"] = std::move(set);
  m["tokenizer"] = {{"plugin", pipeline.tokenizer.plugin}};
  m["direction"] = decode ? "decode" : "encode";
  m["inputs"] = std::move(in);
  m["documents"] = result.documents;
  m["tokens"] = result.tokens;
  m["truncated_documents"] = result.truncated;
  m["dtype"] = dtype;
  return m;
}

}  // namespace qkv::pipeline::detail
