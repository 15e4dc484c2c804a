#include "tokenizers.hpp"

#include <yaml-cpp/yaml.h>

#include <map>
#include <mutex>
#include <stdexcept>

#include "host/plugin_instance.hpp"
#include "host/plugin_registry.hpp"
#include "test_data.hpp"

namespace qkv::bpe::test {
namespace {

// Config keys (relative paths) of each source, as in a pipeline's tokenizer.config.
YAML::Node yaml_for(const std::string& source) {
  YAML::Node n;
  if (source == "r50k_tiktoken") {
    n["encoding"] = "r50k_base";
    n["ranks"] = "r50k_base.tiktoken";
  } else if (source == "gpt2_files") {
    n["encoding"] = "gpt2";
    n["encoder_json"] = "gpt2/encoder.json";
    n["vocab_bpe"] = "gpt2/vocab.bpe";
  } else if (source == "gpt2_hf") {
    n["tokenizer_json"] = "gpt2/tokenizer.json";
  } else if (source == "cl100k") {
    n["encoding"] = "cl100k_base";
    n["ranks"] = "cl100k_base.tiktoken";
  } else if (source == "o200k") {
    n["encoding"] = "o200k_base";
    n["ranks"] = "o200k_base.tiktoken";
  } else {
    throw std::invalid_argument("unknown test source " + source);
  }
  return n;
}

}  // namespace

BpeConfig config_for(const std::string& source) {
  const YAML::Node n = yaml_for(source);
  auto get = [&](const char* k) { return n[k] ? n[k].as<std::string>() : std::string(); };
  auto path = [&](const char* k) { return n[k] ? vocab(n[k].as<std::string>()) : std::string(); };
  return {get("encoding"), path("ranks"), path("encoder_json"), path("vocab_bpe"),
          path("tokenizer_json")};
}

const Bpe& tokenizer(const std::string& source) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Bpe>> cache;
  std::lock_guard lock(mu);
  auto& slot = cache[source];
  if (!slot) slot = make_bpe(config_for(source));
  return *slot;
}

const qkv::host::TokenizerHandle& plugin(const std::string& source) {
  static std::mutex mu;
  static qkv::host::PluginRegistry registry;
  static std::map<std::string, std::unique_ptr<qkv::host::TokenizerHandle>> cache;
  std::lock_guard lock(mu);
  if (registry.all().empty() && !registry.load_file(QKV_BPE_PLUGIN_FILE))
    throw std::runtime_error("plugin not loaded: " + registry.errors().at(0));
  auto& slot = cache[source];
  if (!slot) {
    qkv::host::InstanceConfig cfg;
    cfg.config = qkv::host::ConfigValue::from_yaml(yaml_for(source));
    cfg.config_dir = source_dir() + "/data/vocab";
    cfg.source_file = "(test " + source + ")";
    auto instance = std::make_shared<qkv::host::PluginInstance>(
        registry.require(QKV_KIND_TOKENIZER, "tokenizer-bpe"), std::move(cfg));
    slot = std::make_unique<qkv::host::TokenizerHandle>(std::move(instance));
  }
  return *slot;
}

}  // namespace qkv::bpe::test
