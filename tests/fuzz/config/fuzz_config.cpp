// libFuzzer target: the YAML loaders of daemon/config (daemon config and pipeline config).
// Any file content must load or throw ConfigError listing at least one "file:line:column"
// diagnostic; any other exception (a yaml-cpp one escaping, a bad conversion), a crash, a hang
// or a leak is a bug.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/daemon_config.hpp"
#include "config/diagnostics.hpp"
#include "config/pipeline_config.hpp"

namespace fs = std::filesystem;
namespace config = qkv::config;

namespace {

// One scratch folder per process: the loaders read files, and resolve relative paths there.
const fs::path& scratch() {
  static const fs::path dir = [] {
    std::string tmpl = (fs::temp_directory_path() / "qkv-fuzz-config-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) std::abort();
    std::atexit([] { fs::remove_all(scratch()); });
    return fs::path(tmpl);
  }();
  return dir;
}

template <class Load>
void expect_loads_or_diagnoses(const fs::path& file, Load load) {
  try {
    load(file);
  } catch (const config::ConfigError& e) {
    if (e.diagnostics().empty()) __builtin_trap();
    for (auto& d : e.diagnostics())
      if (d.where.empty() || d.message.empty()) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path file = scratch() / "fuzz.yaml";
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  }
  expect_loads_or_diagnoses(file, [](const fs::path& f) { config::load_daemon_config(f); });
  expect_loads_or_diagnoses(file, [](const fs::path& f) { config::load_pipeline_config(f); });
  return 0;
}
