// `qkvd models inspect` (daemon/model/inspect.cpp): what would load, what is ignored, and a
// refusal naming the file and the key, with exit status 1.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hf_support.hpp"
#include "model/inspect.hpp"
#include "test_support.hpp"

using namespace qkv::model;
using namespace qkv::model::testing;

namespace {

TEST(Inspect, ReportsFamilyShapesParametersAndIgnoredTensors) {
  std::ostringstream out;
  EXPECT_EQ(inspect_model_dir(hf_fixture("roberta-mixed"), true, out), 0);
  const auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["model_type"], "roberta");
  EXPECT_TRUE(j["loads"].get<bool>());
  EXPECT_EQ(j["ignored_tensors"], nlohmann::json::array({"lm_head.bias"}));
  // Every tensor but the ignored one: 90*24 + 34*24 + 24 + 2*24 + 2 * layer.
  const uint64_t layer = 4 * (24 * 24 + 24) + 2 * 24 + (24 * 40 + 40) + (40 * 24 + 24) + 2 * 24;
  EXPECT_EQ(j["parameters"].get<uint64_t>(), 90 * 24 + 34 * 24 + 24 + 2 * 24 + 2 * layer);
  std::ostringstream text;
  EXPECT_EQ(inspect_model_dir(hf_fixture("llama-gqa1"), false, text), 0);
  EXPECT_NE(text.str().find("heads 5 (kv 1), head_dim 12"), std::string::npos) << text.str();
}

TEST(Inspect, RefusalNamesFileAndKeyAndExitsOne) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("qkv-inspect-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "config.json")
      << R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "num_attention_heads": 2,
            "num_hidden_layers": 1, "intermediate_size": 16,
            "rope_scaling": {"type": "dynamic", "factor": 2}})";
  std::ostringstream out;
  EXPECT_EQ(inspect_model_dir(dir, false, out), 1);
  EXPECT_NE(out.str().find((dir / "config.json").string()), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("rope_scaling.type"), std::string::npos) << out.str();
  fs::remove_all(dir);
}

}  // namespace
