// A model directory as users have it: config.json + model.safetensors.
#pragma once

#include <filesystem>

#include "model/transformer.hpp"

namespace qkv::model {

// Throws ModelError naming the file and what is wrong. Positions are not part of it: they come
// from positional plugins (daemon/model/plugin_positions.hpp).
Transformer load_model_dir(const std::filesystem::path& dir,
                           GemmKernel gemm = default_gemm_kernel());
// The same, from a config already read (and possibly adjusted) by the caller.
Transformer load_model(const ModelConfig& config, const std::filesystem::path& safetensors,
                       GemmKernel gemm = default_gemm_kernel());

}  // namespace qkv::model
