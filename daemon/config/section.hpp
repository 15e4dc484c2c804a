// Typed, validating access to one YAML mapping of a Document. Each getter records the key as
// known and reports a diagnostic (never throws) when the value is missing, of the wrong type
// or out of range; finish() reports every key nobody asked for.
#pragma once

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "document.hpp"

namespace qkv::config {

// optional_directory: a folder, or nothing at that path (callers skip it).
enum class PathKind { any, file, directory, optional_directory };

class Section {
 public:
  // `node` must be the mapping at `path` ("" for the root); a non-mapping is reported here.
  Section(Document& doc, YAML::Node node, std::string path);
  // Unknown keys -> diagnostics. Called by the destructor if not called before.
  void finish();
  ~Section();
  Section(const Section&) = delete;
  Section& operator=(const Section&) = delete;

  bool valid() const { return valid_; }
  bool has(std::string_view key) const;
  std::string key_path(std::string_view key) const;
  YAML::Node node() const { return node_; }

  // Each returns nullopt when the key is absent (and reports it when required) or invalid.
  std::optional<std::string> string(std::string_view key, bool required = false);
  std::optional<int64_t> integer(std::string_view key, int64_t min, int64_t max,
                                 bool required = false);
  std::optional<bool> boolean(std::string_view key, bool required = false);
  // A finite number (integer or decimal) in [min, max].
  std::optional<double> number(std::string_view key, double min, double max, bool required = false);
  std::optional<std::string> choice(std::string_view key,
                                    std::initializer_list<std::string_view> allowed,
                                    bool required = false);
  // A path resolved against the file's folder; must exist as `kind` unless PathKind::any.
  std::optional<std::filesystem::path> path(std::string_view key, PathKind kind,
                                            bool required = false);
  std::optional<std::vector<std::string>> string_list(std::string_view key, bool required = false);
  std::optional<std::vector<std::filesystem::path>> path_list(std::string_view key, PathKind kind,
                                                              bool required = false);
  // A child mapping (absent or null -> nullopt; not a mapping -> diagnostic). Marks the key known.
  std::optional<YAML::Node> mapping(std::string_view key, bool required = false);
  // Any value, unchecked (the caller validates it). Marks the key known.
  YAML::Node raw(std::string_view key);

  // Reports a problem with the value at key (or with the mapping itself when key is empty).
  void error(std::string_view key, std::string message);
  Document& document() { return doc_; }

 private:
  std::optional<YAML::Node> value(std::string_view key, bool required, const char* expected);
  bool check_path(const std::string& key, const YAML::Node& at, const std::filesystem::path& p,
                  PathKind kind);

  Document& doc_;
  YAML::Node node_;
  std::string path_;
  std::set<std::string, std::less<>> known_;
  bool valid_ = true;
  bool finished_ = false;
};

// How a YAML value is shown in "got ..." parts of messages.
std::string describe(const YAML::Node& node);

}  // namespace qkv::config
