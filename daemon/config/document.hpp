// One YAML config file being validated: the parsed tree with `--set` overrides applied, where
// each key came from, and the diagnostics found so far.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "diagnostics.hpp"
#include "overrides.hpp"

namespace qkv::config {

class Document {
 public:
  // Parses `file` (errors become diagnostics, never exceptions) and applies the overrides,
  // whose values are parsed as YAML (`--set batch.documents=64`, `--set input.fields={a: b}`).
  static Document load(const std::filesystem::path& file, const Overrides& overrides = {});

  YAML::Node root;
  std::filesystem::path file;  // as given
  std::filesystem::path
      dir;  // real folder of the file (after symlinks): relative paths resolve here

  // "file:line:column" of a node, or "--set key" when the key was overridden.
  std::string where(const YAML::Node& node, const std::string& key) const;
  void error(const YAML::Node& at, const std::string& key, std::string message);
  bool overridden(const std::string& key) const;
  // A path value: relative to the file's folder, or to the working directory for overrides.
  std::filesystem::path resolve(const std::string& key, const std::string& value) const;

  std::vector<Diagnostic> diagnostics;
  bool parsed = false;  // the file was read and is a mapping (overrides may still have failed)
  bool ok() const { return diagnostics.empty(); }
  void throw_if_errors() const;

 private:
  void apply(const std::string& key, const std::string& value);
  std::set<std::string> overridden_;
};

}  // namespace qkv::config
