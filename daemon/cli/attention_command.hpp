// `qkvd attention`: one attention call on NumPy files, for checking an attention plugin by
// hand or from scripts: float32 q/k/v shaped [tokens, heads, head_dim], optional int32
// cu_seqlens.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/cli_context.hpp"

namespace qkv::cli {

void register_attention_command(CLI::App& app, CliContext& ctx);

}  // namespace qkv::cli
