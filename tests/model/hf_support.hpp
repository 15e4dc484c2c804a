// Shared by the HF-family tests: fixtures of tests/model/make_hf_fixtures.py
// (tests/model/hf_fixtures/) and a ModelStage built from a pipeline's `model:` section.
#pragma once

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/pipeline_config.hpp"
#include "model/safetensors.hpp"
#include "model/stage.hpp"
#include "plugin_support.hpp"

namespace qkv::model::testing {

inline std::filesystem::path hf_fixture(const std::string& name) {
  return std::filesystem::path(QKV_SOURCE_DIR) / "tests/model/hf_fixtures" / name;
}

// expected.safetensors of an hf_fixtures model (Expected reads tests/model/fixtures/).
class HfExpected {
 public:
  explicit HfExpected(const std::string& model, const std::string& file = "expected.safetensors")
      : f_(SafetensorsFile::open(hf_fixture(model) / file)) {}
  std::vector<float> floats(const std::string& name) const { return f_.to_f32(entry(name)); }
  std::vector<int32_t> ints(const std::string& name) const {
    const auto& e = entry(name);
    std::vector<int32_t> v(e.elements());
    std::memcpy(v.data(), f_.bytes(e).data(), v.size() * 4);
    return v;
  }
  int64_t cols(const std::string& name) const { return entry(name).shape.at(1); }

 private:
  const TensorEntry& entry(const std::string& name) const {
    const auto* e = f_.find(name);
    if (!e) throw std::runtime_error("fixture has no tensor " + name);
    return *e;
  }
  SafetensorsFile f_;
};

// The stage of a pipeline whose `model:` section is `yaml`, read by config/ as qkvd reads it.
inline std::unique_ptr<pipeline::ModelStage> hf_stage(const std::string& yaml) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("qkv-hf-stage-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path file = dir / "p.yaml";
  std::ofstream(file) << "tokenizer: {plugin: tokenizer-bpe}\nmodel: " << yaml << "\n";
  const auto p = config::load_pipeline_config(file);
  auto stage = make_model_stage({*p.model, p.dir, p.file.string(), &bundled_plugins()});
  fs::remove_all(dir);
  return stage;
}

}  // namespace qkv::model::testing
