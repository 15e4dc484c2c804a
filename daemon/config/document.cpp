#include "document.hpp"

#include <system_error>

namespace qkv::config {
namespace fs = std::filesystem;

namespace {
std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}
}  // namespace

Document Document::load(const fs::path& file, const Overrides& overrides) {
  Document doc;
  doc.file = file;
  std::error_code ec;
  // Relative paths resolve against the file's real folder: a pipelines_dir reached through a
  // symlink (the package's share/qkv/pipelines -> configs/pipelines) or a symlinked pipeline
  // file must find ../../data/vocab beside its target, not beside the link.
  fs::path absolute = fs::absolute(file, ec);
  fs::path real = fs::weakly_canonical(absolute, ec);
  doc.dir = (ec ? absolute : real).parent_path();
  if (!fs::is_regular_file(file, ec)) {
    doc.diagnostics.push_back({file.string(), "", "expected a readable YAML file (not found)"});
    return doc;
  }
  try {
    doc.root = YAML::LoadFile(file.string());
  } catch (const YAML::ParserException& e) {
    doc.diagnostics.push_back({file.string() + ":" + std::to_string(e.mark.line + 1) + ":" +
                                   std::to_string(e.mark.column + 1),
                               "", "expected valid YAML: " + e.msg});
    return doc;
  } catch (const YAML::Exception& e) {
    doc.diagnostics.push_back({file.string(), "", std::string("expected valid YAML: ") + e.what()});
    return doc;
  }
  if (doc.root.IsNull()) doc.root.reset(YAML::Node(YAML::NodeType::Map));  // an empty file
  if (!doc.root.IsMap()) {
    doc.error(doc.root, "", "expected a mapping of keys at the top level");
    return doc;
  }
  doc.parsed = true;
  for (const auto& [key, value] : overrides) doc.apply(key, value);
  return doc;
}

void Document::apply(const std::string& key, const std::string& value) {
  const std::string where = "--set " + key;
  auto parts = split_key(key);
  for (const auto& p : parts) {
    if (p.empty()) {
      diagnostics.push_back({where, key, "expected a dotted key path such as batch.documents"});
      return;
    }
  }
  YAML::Node value_node;
  try {
    value_node = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    diagnostics.push_back({where, key, "expected a YAML value: " + e.msg});
    return;
  }
  YAML::Node cur = root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node next = cur[parts[i]];
    if (!next || next.IsNull()) {
      cur[parts[i]] = YAML::Node(YAML::NodeType::Map);
      next.reset(cur[parts[i]]);
    } else if (!next.IsMap()) {
      std::string prefix;
      for (size_t j = 0; j <= i; ++j) prefix += (j ? "." : "") + parts[j];
      diagnostics.push_back({where, key, "expected " + prefix + " to be a mapping (it is not)"});
      return;
    }
    cur.reset(next);
  }
  cur[parts.back()] = value_node;
  overridden_.insert(key);
}

bool Document::overridden(const std::string& key) const {
  for (const auto& o : overridden_) {
    if (key == o ||
        (key.size() > o.size() && key.compare(0, o.size(), o) == 0 && key[o.size()] == '.'))
      return true;
  }
  return false;
}

std::string Document::where(const YAML::Node& node, const std::string& key) const {
  for (const auto& o : overridden_) {
    if (key == o ||
        (key.size() > o.size() && key.compare(0, o.size(), o) == 0 && key[o.size()] == '.'))
      return "--set " + o;
  }
  if (node.IsDefined()) {
    const YAML::Mark m = node.Mark();
    if (!m.is_null())
      return file.string() + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
  }
  return file.string();
}

void Document::error(const YAML::Node& at, const std::string& key, std::string message) {
  diagnostics.push_back({where(at, key), key, std::move(message)});
}

fs::path Document::resolve(const std::string& key, const std::string& value) const {
  fs::path p(value);
  if (p.is_absolute()) return p.lexically_normal();
  if (overridden(key)) return (fs::current_path() / p).lexically_normal();
  return (dir / p).lexically_normal();
}

void Document::throw_if_errors() const {
  if (!diagnostics.empty()) throw ConfigError(diagnostics);
}

}  // namespace qkv::config
