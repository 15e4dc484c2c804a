#include "pipeline/manifest.hpp"

#include "io/sha256.hpp"
#include "pipeline/run_job.hpp"

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
  // A shard: the index of its first document in the whole job (jobs/shard_plan.hpp).
  if (spec.slice) m["first_document"] = spec.slice->first_document.value_or(0);
  m["tokens"] = result.tokens;
  m["truncated_documents"] = result.truncated;
  m["dtype"] = dtype;
  return m;
}

nlohmann::json tokenizer_json(const Tokenizer& tokenizer, const config::PipelineConfig& pipeline) {
  TokenizerIdentity identity = tokenizer.identity();
  if (identity.plugin.empty()) identity.plugin = pipeline.tokenizer.plugin;
  nlohmann::json files = nlohmann::json::object();
  for (const auto& f : identity.files) files[f.key] = {{"path", f.path}, {"sha256", f.sha256}};
  return {{"plugin", identity.plugin}, {"version", identity.version}, {"files", std::move(files)}};
}

void add_document_ranges(nlohmann::json& manifest, std::span<const uint64_t> documents_per_input) {
  uint64_t first = 0;
  auto& inputs = manifest["inputs"];
  for (size_t i = 0; i < inputs.size(); ++i) {
    const uint64_t n = i < documents_per_input.size() ? documents_per_input[i] : 0;
    inputs[i]["documents"] = {first, first + n};
    first += n;
  }
}

void check_decode_identity(const nlohmann::json& recorded, const TokenizerIdentity& ours,
                           const std::string& input) {
  if (!recorded.is_object() || recorded.value("direction", "encode") != "encode") return;
  const auto tok = recorded.find("tokenizer");
  if (tok == recorded.end() || !tok->is_object()) return;
  const std::string fix = "; decode with the pipeline that made them (manifest \"pipeline\": \"" +
                          recorded.value("pipeline", std::string("?")) +
                          "\"), or move the manifest away to decode anyway";
  const std::string plugin = tok->value("plugin", std::string());
  if (!plugin.empty() && !ours.plugin.empty() && plugin != ours.plugin)
    throw JobFailed(input + ": its ids were made by tokenizer " + plugin +
                    " (its manifest), this pipeline decodes with " + ours.plugin + fix);
  const auto files = tok->find("files");
  if (files == tok->end() || !files->is_object() || ours.files.empty()) return;
  for (const auto& f : ours.files) {
    const auto rec = files->find(f.key);
    const std::string theirs = rec != files->end() && rec->is_object()
                                   ? rec->value("sha256", std::string())
                                   : std::string();
    if (theirs != f.sha256)
      throw JobFailed(input + ": its ids were made with " + f.key + " " +
                      (theirs.empty() ? std::string("absent")
                                      : rec->value("path", std::string("?")) + " (sha256 " +
                                            theirs.substr(0, 12) + "...)") +
                      ", this pipeline's " + f.key + " is " + f.path + " (sha256 " +
                      f.sha256.substr(0, 12) + "...)" + fix);
  }
}

}  // namespace qkv::pipeline::detail
