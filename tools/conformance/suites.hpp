// The conformance suites, one per plugin kind. Each runs its classes of checks into a Report.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "host/plugin_registry.hpp"
#include "report.hpp"

namespace qkv::conformance {

struct Options {
  uint64_t seed = 0;
  unsigned threads = 8;              // concurrency checks
  std::filesystem::path reference;   // attention: the reference plugin library
  YAML::Node config;                 // the plugin's config subtree
  std::filesystem::path config_dir;  // relative paths in the config resolve here
  std::string config_file;           // for file:line:column in messages
  bool lossy = false;                // tokenizer: decode(encode(x)) need not equal x
  int64_t table_rows = 128;          // positional: the synthetic weight table served to
  uint32_t table_dim = 64;           //   plugins asking the host for a tensor
};

void attention_suite(Report& report, const host::LoadedPlugin& plugin, const Options& options);
void positional_suite(Report& report, const host::LoadedPlugin& plugin, const Options& options);
void tokenizer_suite(Report& report, const host::LoadedPlugin& plugin, const Options& options);

}  // namespace qkv::conformance
