// A pipeline YAML file (configs/pipelines/*.yaml), validated into typed values.
// The schema is fixed in docs/pipelines.md.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "document.hpp"

namespace qkv::config {

enum class InputFormat { automatic, jsonl, txt };
enum class OutputFormat { jsonl, bin, npy };
enum class SpecialTokens { default_, none, all, list };

struct PipelineConfig {
  std::string name;            // the file stem
  std::filesystem::path file;  // absolute
  std::filesystem::path dir;   // relative paths of the plugin configs resolve here
  std::string description;

  struct Input {
    InputFormat format = InputFormat::automatic;
    // role -> jsonl field, in the file's order; a single-field pipeline has one ("text", field)
    std::vector<std::pair<std::string, std::string>> fields{{"text", "text"}};
    bool multi_field = false;      // `fields:` given (ids output per role)
    bool replace_invalid = false;  // invalid_utf8: replace (else error)
  } input;

  struct Tokenizer {
    std::string plugin;
    std::string plugin_where;  // "file:line:column" of the plugin value, for messages
    YAML::Node config;         // the plugin's subtree (may be an empty mapping)
    SpecialTokens special = SpecialTokens::default_;
    std::vector<std::string> special_names;
    bool add_special = true;
    uint32_t max_length = 0;  // 0 = no truncation
  } tokenizer;

  struct Model {
    YAML::Node node;  // the whole `model:` mapping, for the model stage factory
    std::filesystem::path path;
    std::string output = "hidden";
    uint32_t topk = 5;
    bool truncate = true;
  };
  std::optional<Model> model;

  struct Output {
    OutputFormat format = OutputFormat::jsonl;
    bool offsets = false;
  } output;

  struct Batch {
    uint32_t documents = 256;
    uint32_t max_tokens = 16384;
  } batch;
};

// Loads and validates; throws ConfigError listing every problem.
PipelineConfig load_pipeline_config(const std::filesystem::path& file,
                                    const Overrides& overrides = {});

// A pipeline named by path (contains '/' or ends in .yaml/.yml) or by file stem in `dir`.
std::filesystem::path resolve_pipeline(const std::string& name_or_path,
                                       const std::filesystem::path& dir);

// Every *.yaml / *.yml in `dir`, sorted by name.
std::vector<std::filesystem::path> list_pipelines(const std::filesystem::path& dir);

const char* to_string(OutputFormat f);

}  // namespace qkv::config
