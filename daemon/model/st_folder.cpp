#include "model/st_folder.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/error.hpp"

namespace qkv::model {

namespace {

using nlohmann::json;

json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw ModelError(file.string() + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || (!j.is_object() && !j.is_array()))
    throw ModelError(file.string() + ": not valid JSON");
  return j;
}

bool flag(const json& j, const std::filesystem::path& file, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return false;
  if (!it->is_boolean())
    throw ModelError(file.string() + ": field '" + key + "': expected true or false");
  return it->get<bool>();
}

// sentence_transformers/models/Pooling.py: the modes are flags; qkv computes one at a time.
Pooling read_pooling(const std::filesystem::path& file, bool& include_prompt) {
  const json j = read_json(file);
  if (!j.is_object()) throw ModelError(file.string() + ": expected a JSON object");
  if (auto it = j.find("include_prompt"); it != j.end() && !it->is_null())
    include_prompt = flag(j, file, "include_prompt");
  for (const char* unsupported :
       {"pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens"})
    if (flag(j, file, unsupported))
      throw ModelError(file.string() + ": field '" + unsupported +
                       "': this pooling is not supported (cls, mean, max, lasttoken)");
  Pooling p = Pooling::none;
  const std::pair<const char*, Pooling> modes[] = {{"pooling_mode_cls_token", Pooling::cls},
                                                   {"pooling_mode_mean_tokens", Pooling::mean},
                                                   {"pooling_mode_max_tokens", Pooling::max},
                                                   {"pooling_mode_lasttoken", Pooling::last}};
  for (const auto& [key, mode] : modes) {
    if (!flag(j, file, key)) continue;
    if (p != Pooling::none)
      throw ModelError(file.string() + ": field '" + key + "': only one pooling mode at a time (" +
                       to_string(p) + " is set too)");
    p = mode;
  }
  if (p == Pooling::none)
    throw ModelError(file.string() + ": no pooling_mode_* is true (cls, mean, max, lasttoken)");
  return p;
}

}  // namespace

const char* to_string(Pooling p) {
  switch (p) {
    case Pooling::none:
      return "none";
    case Pooling::cls:
      return "cls";
    case Pooling::mean:
      return "mean";
    case Pooling::max:
      return "max";
    case Pooling::last:
      return "lasttoken";
  }
  return "?";
}

SentenceTransformersFolder read_sentence_transformers(const std::filesystem::path& dir) {
  SentenceTransformersFolder f;
  const auto modules_file = dir / "modules.json";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(modules_file, ec)) return f;
  f.present = true;
  const json modules = read_json(modules_file);
  if (!modules.is_array()) throw ModelError(modules_file.string() + ": expected a JSON array");
  for (size_t i = 0; i < modules.size(); ++i) {
    const auto& m = modules[i];
    const std::string where = modules_file.string() + ": module " + std::to_string(i);
    if (!m.is_object() || !m.contains("type") || !m["type"].is_string())
      throw ModelError(where + ": expected an object with a string 'type'");
    const std::string type = m["type"].get<std::string>();
    const std::string path = m.value("path", std::string());
    if (type == "sentence_transformers.models.Transformer") {
      if (!path.empty())
        throw ModelError(where +
                         ": field 'path': the Transformer must be the folder itself "
                         "(path \"\"), found '" +
                         path + "'");
    } else if (type == "sentence_transformers.models.Pooling") {
      f.pooling = read_pooling(dir / path / "config.json", f.include_prompt);
    } else if (type == "sentence_transformers.models.Normalize") {
      f.normalize = true;
    } else {
      throw ModelError(where + ": field 'type': unsupported module '" + type +
                       "' (Transformer, Pooling, Normalize)");
    }
  }
  const auto sbert = dir / "sentence_bert_config.json";
  if (std::filesystem::is_regular_file(sbert, ec)) {
    const json j = read_json(sbert);
    if (auto it = j.find("max_seq_length"); it != j.end() && !it->is_null()) {
      if (!it->is_number_unsigned())
        throw ModelError(sbert.string() + ": field 'max_seq_length': expected a positive integer");
      f.max_seq_length = it->get<uint32_t>();
    }
    f.do_lower_case = flag(j, sbert, "do_lower_case");
  }
  const auto cst = dir / "config_sentence_transformers.json";
  if (std::filesystem::is_regular_file(cst, ec)) {
    const json j = read_json(cst);
    if (auto it = j.find("prompts"); it != j.end() && !it->is_null()) {
      if (!it->is_object())
        throw ModelError(cst.string() + ": field 'prompts': expected an object of name: text");
      for (const auto& [name, text] : it->items()) {
        if (!text.is_string())
          throw ModelError(cst.string() + ": field 'prompts." + name + "': expected a string");
        f.prompts[name] = text.get<std::string>();
      }
    }
    if (auto it = j.find("default_prompt_name"); it != j.end() && !it->is_null()) {
      if (!it->is_string())
        throw ModelError(cst.string() + ": field 'default_prompt_name': expected a string");
      f.default_prompt_name = it->get<std::string>();
      if (!f.prompts.count(f.default_prompt_name))
        throw ModelError(cst.string() + ": field 'default_prompt_name': '" + f.default_prompt_name +
                         "' is not one of its prompts");
    }
  }
  return f;
}

}  // namespace qkv::model
