// `--set key.path=value` overrides of a config file, applied by Document::load.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace qkv::config {

using Overrides = std::vector<std::pair<std::string, std::string>>;  // key.path, YAML value

}  // namespace qkv::config
