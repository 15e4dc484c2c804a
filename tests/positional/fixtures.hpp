// Access to the PyTorch fixtures made by make_fixtures.py, and the tolerance rule they are
// checked with: |a - b| <= 1e-5 + 1e-4 * max|ref| per tensor.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

namespace qkv::test {

struct PositionalCase {
  std::string name;
  std::string kind;  // sinusoidal, rope, learned
  nlohmann::json config;
  std::filesystem::path dir;
  nlohmann::json files;

  std::vector<float> floats(const std::string& key, std::vector<int64_t>* shape = nullptr) const;
  std::vector<int32_t> ints(const std::string& key) const;
};

// Every case of the given kind in tests/positional/fixtures/manifest.json.
std::vector<PositionalCase> positional_cases(const std::string& kind);

// Fails the test (naming what) when any element is out of tolerance.
void expect_close(std::span<const float> actual, std::span<const float> ref,
                  const std::string& what);

}  // namespace qkv::test
