#include "service/inline_overrides.hpp"

#include <array>
#include <string_view>

namespace qkv::service {
namespace {

// The parts of a pipeline that StageCache::tokenizer_key / model_key depend on
// (daemon/pipeline/stage_cache.cpp): each distinct value is a new load.
constexpr std::array<std::string_view, 4> kLoading = {"tokenizer.plugin", "tokenizer.config",
                                                      "tokenizer.from_model", "model"};

bool under(std::string_view key, std::string_view prefix) {
  return key.substr(0, prefix.size()) == prefix &&
         (key.size() == prefix.size() || key[prefix.size()] == '.');
}

}  // namespace

std::optional<std::string> refuse_loading_overrides(const config::Overrides& overrides) {
  for (const auto& [key, value] : overrides)
    for (std::string_view prefix : kLoading)
      if (under(key, prefix))
        return "set: '" + key +
               "' would load the tokenizer or model again; inline runs may not change " +
               std::string(prefix) + " (use a pipeline that sets it, or submit a file job)";
  return std::nullopt;
}

}  // namespace qkv::service
