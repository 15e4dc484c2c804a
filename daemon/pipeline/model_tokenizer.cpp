#include "pipeline/model_tokenizer.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace qkv::pipeline {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

Json read_json(const fs::path& file, const fs::path& shown) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  Json j = Json::parse(ss.str(), nullptr, false);
  if (!in || j.is_discarded() || !j.is_object())
    throw std::runtime_error(shown.string() + ": not a JSON object");
  return j;
}

host::ConfigValue scalar(std::string text) {
  host::ConfigValue v;
  v.type = QKV_VALUE_SCALAR;
  v.scalar = std::move(text);
  return v;
}

}  // namespace

config::PipelineConfig::Tokenizer tokenizer_from_model(const config::PipelineConfig& p) {
  config::PipelineConfig::Tokenizer t = p.tokenizer;
  if (!p.model)
    throw std::runtime_error(p.file.string() +
                             ": tokenizer.from_model: true needs a `model:` section");
  const fs::path dir = config::model_files(*p.model);  // read here
  const fs::path& shown = p.model->path;               // named in messages
  t.config = {};
  t.config.type = QKV_VALUE_MAP;
  auto set = [&](const char* key, host::ConfigValue v) {
    t.config.keys.push_back(key);
    t.config.items.push_back(std::move(v));
  };
  auto has = [&](const char* name) {
    std::error_code ec;
    return fs::is_regular_file(dir / name, ec);
  };
  // HF's slow SentencePiece tokenizers first: an XLM-R folder's tokenizer.json beside its
  // sentencepiece.bpe.model has a RobertaProcessing post-processor the plugin does not read.
  if (has("sentencepiece.bpe.model")) {  // XLMRobertaTokenizer's file
    t.plugin = "tokenizer-sentencepiece";
    set("model", scalar((dir / "sentencepiece.bpe.model").string()));
    set("id_map", scalar("fairseq"));
  } else if (has("source.spm") && has("vocab.json")) {  // MarianTokenizer's
    t.plugin = "tokenizer-sentencepiece";
    set("model", scalar((dir / "source.spm").string()));
    set("vocab_json", scalar((dir / "vocab.json").string()));
  } else if (has("tokenizer.json")) {
    const Json j = read_json(dir / "tokenizer.json", shown / "tokenizer.json");
    const auto model = j.find("model");
    const std::string type = model != j.end() && model->is_object() && model->contains("type") &&
                                     (*model)["type"].is_string()
                                 ? (*model)["type"].get<std::string>()
                                 : std::string();
    if (type == "WordPiece")
      t.plugin = "tokenizer-wordpiece";
    else if (type == "BPE")
      t.plugin = "tokenizer-bpe";
    else if (type == "Unigram")
      t.plugin = "tokenizer-sentencepiece";
    else
      throw std::runtime_error((shown / "tokenizer.json").string() +
                               ": field 'model.type': expected WordPiece, BPE or " +
                               "Unigram (tokenizer.from_model), got " +
                               (type.empty() ? "none" : "'" + type + "'"));
    set("tokenizer_json", scalar((dir / "tokenizer.json").string()));
  } else if (has("vocab.txt")) {
    t.plugin = "tokenizer-wordpiece";
    set("vocab", scalar((dir / "vocab.txt").string()));
    bool lower = true;  // BertTokenizer's default
    if (has("tokenizer_config.json")) {
      const Json j = read_json(dir / "tokenizer_config.json", shown / "tokenizer_config.json");
      if (auto it = j.find("do_lower_case"); it != j.end() && !it->is_null()) {
        if (!it->is_boolean())
          throw std::runtime_error((shown / "tokenizer_config.json").string() +
                                   ": field 'do_lower_case': expected true or false");
        lower = it->get<bool>();
      }
    }
    set("lowercase", scalar(lower ? "true" : "false"));
  } else if (has("vocab.json") && has("merges.txt")) {
    t.plugin = "tokenizer-bpe";
    set("encoder_json", scalar((dir / "vocab.json").string()));
    set("vocab_bpe", scalar((dir / "merges.txt").string()));
  } else if (has("tokenizer.model")) {
    t.plugin = "tokenizer-sentencepiece";
    set("model", scalar((dir / "tokenizer.model").string()));
  } else {
    throw std::runtime_error(shown.string() +
                             ": tokenizer.from_model: the model folder has no tokenizer files "
                             "(sentencepiece.bpe.model, source.spm + vocab.json, tokenizer.json, "
                             "vocab.txt, vocab.json + merges.txt or tokenizer.model)");
  }
  t.plugin_where = p.file.string() + ": tokenizer.from_model (" + shown.string() + ")";
  return t;
}

std::optional<config::PipelineConfig::Tokenizer> target_tokenizer_from_model(
    const config::PipelineConfig& p) {
  config::PipelineConfig::Tokenizer t = tokenizer_from_model(p);
  const auto& keys = t.config.keys;
  if (std::find(keys.begin(), keys.end(), "vocab_json") == keys.end()) return std::nullopt;
  const fs::path target = config::model_files(*p.model) / "target.spm";
  std::error_code ec;
  if (!fs::is_regular_file(target, ec)) return std::nullopt;
  const auto model = std::find(keys.begin(), keys.end(), "model");
  t.config.items[static_cast<size_t>(model - keys.begin())] = scalar(target.string());
  t.plugin_where =
      p.file.string() + ": tokenizer.from_model (" + p.model->path.string() + "/target.spm)";
  return t;
}

}  // namespace qkv::pipeline
