#include "section.hpp"

#include <charconv>
#include <cmath>
#include <sstream>
#include <system_error>
#include <utility>

namespace qkv::config {
namespace fs = std::filesystem;

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined()) return "nothing";
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar: {
      std::string s = node.Scalar();
      if (s.size() > 40) s = s.substr(0, 37) + "...";
      return "'" + s + "'";
    }
    default:
      return "nothing";
  }
}

namespace {
// yaml-cpp's zombie nodes (absent keys) throw on assignment, so pick the node before storing it.
YAML::Node usable(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull())
    return YAML::Node(YAML::NodeType::Map);  // absent: defaults
  return node;
}
}  // namespace

Section::Section(Document& doc, YAML::Node node, std::string path)
    : doc_(doc), node_(usable(node)), path_(std::move(path)) {
  if (!node_.IsMap()) {
    doc_.error(node_, path_, "expected a mapping, got " + describe(node_));
    valid_ = false;
  }
}

Section::~Section() {
  if (!finished_) finish();
}

void Section::finish() {
  finished_ = true;
  if (!valid_) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string key = it->first.Scalar();
    if (known_.count(key)) continue;
    std::string allowed;
    for (const auto& k : known_) allowed += (allowed.empty() ? "" : ", ") + k;
    doc_.error(
        it->first, key_path(key),
        "unknown key; expected one of: " + (allowed.empty() ? std::string("(none)") : allowed));
  }
}

bool Section::has(std::string_view key) const {
  return valid_ && std::as_const(node_)[std::string(key)].IsDefined();
}

std::string Section::key_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

void Section::error(std::string_view key, std::string message) {
  if (key.empty()) {
    doc_.error(node_, path_, std::move(message));
    return;
  }
  YAML::Node v = valid_ ? std::as_const(node_)[std::string(key)] : YAML::Node();
  doc_.error(v.IsDefined() && !v.Mark().is_null() ? v : node_, key_path(key), std::move(message));
}

std::optional<YAML::Node> Section::value(std::string_view key, bool required,
                                         const char* expected) {
  known_.emplace(key);
  if (!valid_) return std::nullopt;
  YAML::Node v = std::as_const(node_)[std::string(key)];
  if (!v.IsDefined() || v.IsNull()) {
    if (required)
      doc_.error(node_, key_path(key),
                 std::string("expected ") + expected + " (required key is missing)");
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> Section::string(std::string_view key, bool required) {
  auto found = value(key, required, "a string");
  if (!found) return std::nullopt;
  const YAML::Node v = *found;
  if (!v.IsScalar()) {
    error(key, "expected a string, got " + describe(v));
    return std::nullopt;
  }
  return v.Scalar();
}

std::optional<int64_t> Section::integer(std::string_view key, int64_t min, int64_t max,
                                        bool required) {
  std::string expected = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  auto found = value(key, required, expected.c_str());
  if (!found) return std::nullopt;
  const YAML::Node v = *found;
  int64_t out = 0;
  bool parsed = false;
  if (v.IsScalar()) {
    const std::string& s = v.Scalar();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    parsed = ec == std::errc() && end == s.data() + s.size() && !s.empty();
  }
  if (!parsed || out < min || out > max) {
    error(key, "expected " + expected + ", got " + describe(v));
    return std::nullopt;
  }
  return out;
}

std::optional<double> Section::number(std::string_view key, double min, double max, bool required) {
  std::ostringstream range;
  range << "a number in [" << min << ", " << max << "]";
  const std::string expected = range.str();
  auto found = value(key, required, expected.c_str());
  if (!found) return std::nullopt;
  const YAML::Node v = *found;
  double out = 0;
  bool parsed = false;
  if (v.IsScalar()) {
    const std::string& s = v.Scalar();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    parsed = ec == std::errc() && end == s.data() + s.size() && !s.empty() && std::isfinite(out);
  }
  if (!parsed || out < min || out > max) {
    error(key, "expected " + expected + ", got " + describe(v));
    return std::nullopt;
  }
  return out;
}

std::optional<bool> Section::boolean(std::string_view key, bool required) {
  auto found = value(key, required, "true or false");
  if (!found) return std::nullopt;
  const YAML::Node v = *found;
  if (v.IsScalar()) {
    const std::string& s = v.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  error(key, "expected true or false, got " + describe(v));
  return std::nullopt;
}

std::optional<std::string> Section::choice(std::string_view key,
                                           std::initializer_list<std::string_view> allowed,
                                           bool required) {
  std::string expected = "one of ";
  bool first = true;
  for (auto a : allowed) {
    expected += (first ? "" : " | ") + std::string(a);
    first = false;
  }
  auto found = value(key, required, expected.c_str());
  if (!found) return std::nullopt;
  const YAML::Node v = *found;
  if (v.IsScalar()) {
    for (auto a : allowed)
      if (v.Scalar() == a) return v.Scalar();
  }
  error(key, "expected " + expected + ", got " + describe(v));
  return std::nullopt;
}

bool Section::check_path(const std::string& key, const YAML::Node& at, const fs::path& p,
                         PathKind kind) {
  std::error_code ec;
  if (kind == PathKind::file && !fs::is_regular_file(p, ec)) {
    doc_.error(at, key, "expected an existing file, but " + p.string() + " is not one");
    return false;
  }
  if (kind == PathKind::directory && !fs::is_directory(p, ec)) {
    doc_.error(at, key, "expected an existing folder, but " + p.string() + " is not one");
    return false;
  }
  if (kind == PathKind::optional_directory && fs::exists(p, ec) && !fs::is_directory(p, ec)) {
    doc_.error(at, key, "expected a folder (or nothing yet), but " + p.string() + " is not one");
    return false;
  }
  return true;
}

std::optional<fs::path> Section::path(std::string_view key, PathKind kind, bool required) {
  auto found = value(key, required, "a path");
  if (!found) return std::nullopt;
  const YAML::Node v = *found;
  if (!v.IsScalar() || v.Scalar().empty()) {
    error(key, "expected a path, got " + describe(v));
    return std::nullopt;
  }
  const std::string k = key_path(key);
  fs::path p = doc_.resolve(k, v.Scalar());
  if (!check_path(k, v, p, kind)) return std::nullopt;
  return p;
}

std::optional<std::vector<std::string>> Section::string_list(std::string_view key, bool required) {
  auto found = value(key, required, "a list of strings");
  if (!found) return std::nullopt;
  const YAML::Node v = *found;
  if (!v.IsSequence()) {
    error(key, "expected a list of strings, got " + describe(v));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].IsScalar()) {
      doc_.error(v[i], key_path(key) + "." + std::to_string(i),
                 "expected a string, got " + describe(v[i]));
      ok = false;
    } else {
      out.push_back(v[i].Scalar());
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::vector<fs::path>> Section::path_list(std::string_view key, PathKind kind,
                                                        bool required) {
  auto found = value(key, required, "a list of paths");
  if (!found) return std::nullopt;
  const YAML::Node v = *found;
  if (!v.IsSequence()) {
    error(key, "expected a list of paths, got " + describe(v));
    return std::nullopt;
  }
  std::vector<fs::path> out;
  bool ok = true;
  const std::string k = key_path(key);
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string item = k + "." + std::to_string(i);
    if (!v[i].IsScalar() || v[i].Scalar().empty()) {
      doc_.error(v[i], item, "expected a path, got " + describe(v[i]));
      ok = false;
      continue;
    }
    fs::path p = doc_.resolve(k, v[i].Scalar());
    if (check_path(item, v[i], p, kind))
      out.push_back(p);
    else
      ok = false;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<YAML::Node> Section::mapping(std::string_view key, bool required) {
  auto found = value(key, required, "a mapping");
  if (!found) return std::nullopt;
  const YAML::Node v = *found;
  if (!v.IsMap()) {
    error(key, "expected a mapping, got " + describe(v));
    return std::nullopt;
  }
  return v;
}

YAML::Node Section::raw(std::string_view key) {
  known_.emplace(key);
  if (!valid_) return YAML::Node(YAML::NodeType::Undefined);
  return std::as_const(node_)[std::string(key)];
}

}  // namespace qkv::config
