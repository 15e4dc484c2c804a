#include "model/inspect.hpp"

#include <map>
#include <nlohmann/json.hpp>

#include "model/config.hpp"
#include "model/error.hpp"
#include "model/plugin_positions.hpp"
#include "model/safetensors.hpp"
#include "model/st_folder.hpp"
#include "model/weights.hpp"

namespace qkv::model {

namespace {

using nlohmann::json;

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::Encoder:
      return "encoder";
    case Arch::Decoder:
      return "decoder";
    case Arch::EncoderDecoder:
      return "encoder-decoder";
  }
  return "?";
}

// The plugin config as `plugin {key: value, ...}`.
std::string plugin_text(const config::PluginRef& ref) {
  std::string s = ref.plugin + " {";
  for (size_t i = 0; i < ref.config.keys.size(); ++i)
    s += (i ? ", " : "") + ref.config.keys[i] + ": " + ref.config.items[i].scalar;
  return s + "}";
}

json describe(const std::filesystem::path& dir) {
  const ModelConfig c = load_config(dir);
  const auto file = SafetensorsFile::open(dir / "model.safetensors");
  const ModelWeights w = load_weights(c, file);
  const auto folder = read_sentence_transformers(dir);
  json j;
  j["model_type"] = c.model_type;
  j["architecture"] = arch_name(c.arch);
  j["vocab_size"] = c.vocab_size;
  j["d_model"] = c.d_model;
  j["heads"] = c.heads;
  j["kv_heads"] = c.kv_head_count();
  j["head_dim"] = c.head_dim();
  j["ffn_dim"] = c.ffn_dim;
  j["ffn"] = c.ffn == Ffn::SwiGlu ? "swiglu" : "plain";
  j["encoder_layers"] = c.encoder_layers;
  j["decoder_layers"] = c.decoder_layers;
  j["norm"] = c.norm == NormKind::RmsNorm ? "rmsnorm" : "layernorm";
  j["max_positions"] = c.max_positions;
  if (c.sliding_window) j["sliding_window"] = c.sliding_window;
  json positions = json::object();
  if (c.has_encoder())
    if (auto ref = implied_positional(c, w.encoder)) positions["encoder"] = plugin_text(*ref);
  if (c.has_decoder())
    if (auto ref = implied_positional(c, w.decoder)) positions["decoder"] = plugin_text(*ref);
  j["positions"] = positions;
  uint64_t params = 0;
  std::map<std::string, uint64_t> dtypes;
  json ignored = json::array();
  for (const auto& t : file.header().tensors) {
    if (!w.tensors_read.count(t.name)) {
      ignored.push_back(t.name);
      continue;
    }
    params += t.elements();
    dtypes[std::string(dtype_name(t.dtype))] += 1;
  }
  j["parameters"] = params;
  j["dtypes"] = dtypes;
  j["tensors_read"] = w.tensors_read.size();
  j["ignored_tensors"] = ignored;
  if (folder.present) {
    json st;
    st["pooling"] = to_string(folder.pooling);
    st["normalize"] = folder.normalize;
    st["max_seq_length"] = folder.max_seq_length;
    st["prompts"] = folder.prompts;
    j["sentence_transformers"] = st;
  }
  return j;
}

void print_text(const json& j, std::ostream& out) {
  out << "  family: " << j["model_type"].get<std::string>() << " ("
      << j["architecture"].get<std::string>() << ")\n";
  out << "  shape: vocab " << j["vocab_size"] << ", d_model " << j["d_model"] << ", heads "
      << j["heads"] << " (kv " << j["kv_heads"] << "), head_dim " << j["head_dim"] << ", ffn "
      << j["ffn_dim"] << " (" << j["ffn"].get<std::string>() << "), layers: encoder "
      << j["encoder_layers"] << ", decoder " << j["decoder_layers"] << "\n";
  out << "  norm: " << j["norm"].get<std::string>() << "; max_positions " << j["max_positions"];
  if (j.contains("sliding_window")) out << "; sliding_window " << j["sliding_window"];
  out << "\n";
  for (const auto& [stack, text] : j["positions"].items())
    out << "  positions (" << stack << "): " << text.get<std::string>() << "\n";
  out << "  parameters: " << j["parameters"] << " in " << j["tensors_read"] << " tensors (";
  bool first = true;
  for (const auto& [dt, n] : j["dtypes"].items()) {
    out << (first ? "" : ", ") << dt << " " << n;
    first = false;
  }
  out << ")\n";
  if (j.contains("sentence_transformers")) {
    const auto& st = j["sentence_transformers"];
    out << "  sentence-transformers: pooling " << st["pooling"].get<std::string>() << ", normalize "
        << (st["normalize"].get<bool>() ? "yes" : "no") << ", max_seq_length "
        << st["max_seq_length"] << "\n";
  }
  const auto& ignored = j["ignored_tensors"];
  out << "  ignored tensors: " << ignored.size() << "\n";
  for (const auto& n : ignored) out << "    " << n.get<std::string>() << "\n";
}

}  // namespace

int inspect_model_dir(const std::filesystem::path& dir, bool as_json, std::ostream& out) {
  json j;
  try {
    j = describe(dir);
  } catch (const std::exception& e) {  // ModelError names the file, key or tensor
    if (as_json)
      out << json{{"path", dir.string()}, {"loads", false}, {"error", e.what()}}.dump(2) << "\n";
    else
      out << dir.string() << ": would be refused: " << e.what() << "\n";
    return 1;
  }
  if (as_json) {
    j["path"] = dir.string();
    j["loads"] = true;
    out << j.dump(2) << "\n";
  } else {
    out << dir.string() << ": would load\n";
    print_text(j, out);
  }
  return 0;
}

}  // namespace qkv::model
