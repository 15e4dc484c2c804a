// What qkv would load from a model directory, without running it (`qkvd models inspect`):
// family, shapes, dtypes, parameter count, the positional plugin it implies, and the
// checkpoint tensors it would ignore; or why the directory is refused.
#pragma once

#include <filesystem>
#include <ostream>

namespace qkv::model {

// Writes the report (text, or one JSON object when `json`) to `out`. Returns 0 when the
// directory would load, 1 when it would be refused (the reason is in the report).
int inspect_model_dir(const std::filesystem::path& dir, bool json, std::ostream& out);

}  // namespace qkv::model
