// qkv-conformance LIB.so: loads a plugin library with the host's registry and runs the
// conformance suite of its kind. Exit 0: passed; 1: a class of checks failed (named in the
// report); 2: the library or its config could not be used at all.
#include <CLI/CLI.hpp>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>

#include "host/negotiate.hpp"
#include "host/plugin_registry.hpp"
#include "suites.hpp"

namespace fs = std::filesystem;
using namespace qkv::conformance;

namespace {

// Where the reference attention plugin is looked for when --reference is not given:
// $QKV_PLUGIN_DIR, the install tree next to this binary, then the build tree it came from.
fs::path find_reference() {
  const char* file = "qkv_attention-reference.so";
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("QKV_PLUGIN_DIR")) dirs.emplace_back(env);
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back(self.parent_path() / QKV_CONFORMANCE_INSTALLED_PLUGINS);
  dirs.emplace_back(QKV_CONFORMANCE_BUILD_PLUGINS);
  for (const auto& d : dirs)
    if (fs::exists(d / file, ec)) return d / file;
  return dirs.back() / file;  // reported as missing by the suite
}

// --set a.b=value: value parsed as YAML (numbers stay numbers), nested maps made on the way.
void apply_set(YAML::Node& root, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw CLI::ValidationError("--set", "expected key.path=value, got '" + assignment + "'");
  std::vector<std::string> keys;
  std::string path = assignment.substr(0, eq);
  for (size_t at = 0, dot; at <= path.size(); at = dot + 1) {
    dot = path.find('.', at);
    if (dot == std::string::npos) dot = path.size();
    keys.push_back(path.substr(at, dot - at));
  }
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    YAML::Node child = chain.back()[keys[i]];
    if (!child.IsMap()) child = YAML::Node(YAML::NodeType::Map);
    chain.back()[keys[i]] = child;
    chain.push_back(child);
  }
  chain.back()[keys.back()] = YAML::Load(assignment.substr(eq + 1));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Runs the qkv conformance suite of a plugin library's kind (attention: against "
      "the reference plugin; positional; tokenizer)."};
  fs::path library;
  fs::path config_file;
  std::vector<std::string> sets;
  Options o;
  o.seed = std::random_device{}();
  app.add_option("library", library, "the plugin library (.so) to check")->required();
  app.add_option("--reference", o.reference,
                 "attention: the reference plugin library (default: found in the plugin dirs)");
  app.add_option("--config", config_file, "YAML file: the plugin's config subtree");
  app.add_option("--set", sets, "key.path=value in the plugin's config (repeatable)");
  app.add_option("--seed", o.seed, "random seed (printed; default: random)");
  app.add_option("--threads", o.threads, "threads for the concurrency checks")
      ->check(CLI::Range(1u, 256u));
  app.add_flag("--lossy", o.lossy,
               "tokenizer: decode(encode(x)) may differ from x (e.g. uncased WordPiece); check "
               "that re-encoding is stable instead");
  app.add_option("--table-rows", o.table_rows, "positional: rows of the synthetic weight table")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  app.add_option("--table-dim", o.table_dim, "positional: width of the synthetic weight table")
      ->check(CLI::Range(1u, 1u << 16));
  try {
    app.parse(argc, argv);
    o.config = YAML::Node(YAML::NodeType::Map);
    o.config_dir = fs::current_path();
    if (!config_file.empty()) {
      o.config = YAML::LoadFile(config_file.string());
      o.config_dir = fs::absolute(config_file).parent_path();
      o.config_file = config_file.string();
    }
    for (const auto& s : sets) apply_set(o.config, s);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const YAML::Exception& e) {
    std::cerr << "qkv-conformance: " << config_file.string() << ": " << e.what() << "\n";
    return 2;
  }
  if (o.reference.empty()) o.reference = find_reference();

  qkv::host::PluginRegistry registry;
  if (!registry.load_file(library)) {
    std::cerr << "qkv-conformance: refused: "
              << (registry.errors().empty() ? library.string() : registry.errors().back()) << "\n";
    return 2;
  }
  const auto& plugin = *registry.all().front();
  std::cout << "qkv-conformance: " << library.string() << ": " << qkv::host::kind_name(plugin.kind)
            << " plugin '" << plugin.name << "' " << plugin.version << " (ABI " << plugin.abi_major
            << "." << plugin.abi_minor << "), seed " << o.seed << "\n";
  Report report(std::cout);
  switch (plugin.kind) {
    case QKV_KIND_ATTENTION:
      attention_suite(report, plugin, o);
      break;
    case QKV_KIND_POSITIONAL:
      positional_suite(report, plugin, o);
      break;
    case QKV_KIND_TOKENIZER:
      tokenizer_suite(report, plugin, o);
      break;
  }
  return report.finish(plugin.name);
}
