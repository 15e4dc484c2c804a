#include "fixtures.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "io/npy.hpp"

namespace qkv::test {

static std::filesystem::path fixture_dir() {
  return std::filesystem::path(QKV_SOURCE_DIR) / "tests/positional/fixtures";
}

std::vector<PositionalCase> positional_cases(const std::string& kind) {
  std::ifstream in(fixture_dir() / "manifest.json");
  if (!in) throw std::runtime_error("cannot open " + (fixture_dir() / "manifest.json").string());
  auto manifest = nlohmann::json::parse(in);
  std::vector<PositionalCase> out;
  for (const auto& c : manifest.at("cases"))
    if (c.at("kind") == kind)
      out.push_back({c.at("name"), c.at("kind"), c.at("config"), fixture_dir(), c.at("files")});
  if (out.empty()) throw std::runtime_error("no fixture case of kind " + kind);
  return out;
}

std::vector<float> PositionalCase::floats(const std::string& key,
                                          std::vector<int64_t>* shape) const {
  auto a = io::read_npy(dir / files.at(key).get<std::string>());
  if (shape) *shape = a.shape;
  return a.as<float>();
}

std::vector<int32_t> PositionalCase::ints(const std::string& key) const {
  return io::read_npy(dir / files.at(key).get<std::string>()).as<int32_t>();
}

void expect_close(std::span<const float> actual, std::span<const float> ref,
                  const std::string& what) {
  ASSERT_EQ(actual.size(), ref.size()) << what;
  float max_ref = 0;
  for (float r : ref) max_ref = std::max(max_ref, std::fabs(r));
  const double tol = 1e-5 + 1e-4 * max_ref;
  size_t bad = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double diff = std::fabs(double{actual[i]} - double{ref[i]});
    if (!(diff <= tol) && bad++ < 5)
      ADD_FAILURE() << what << ": element " << i << " is " << actual[i] << ", reference " << ref[i]
                    << " (|diff| " << diff << " > tol " << tol << ")";
  }
  EXPECT_EQ(bad, 0u) << what << ": elements out of tolerance";
}

}  // namespace qkv::test
