// Which `set` keys an inline run may use. Inline runs share the generation's StageCache, so a
// key that changes the tokenizer instance or the model stage (the plugin, its config, the
// model) would load files again and keep them cached per distinct value: refused there, file
// jobs and `qkvd run` may use them. Encode options, batching and output stay open.
#pragma once

#include <optional>
#include <string>

#include "config/overrides.hpp"

namespace qkv::service {

// The bad_request message naming the first such key, or nullopt when all may be used.
std::optional<std::string> refuse_loading_overrides(const config::Overrides& overrides);

}  // namespace qkv::service
