// A model directory as users have it: config.json + model.safetensors.
#pragma once

#include <filesystem>
#include <memory>

#include "model/backends.hpp"
#include "model/transformer.hpp"

namespace qkv::model {

struct LoadedModel {
  std::unique_ptr<Transformer> transformer;
  // Built-in positions of each stack (nullptr: none, or the stack is absent).
  std::unique_ptr<PositionalBackend> encoder_positions, decoder_positions;

  Backends backends(const AttentionBackend& attention) const {
    Backends b;
    b.attention = &attention;
    b.encoder_positions = encoder_positions.get();
    b.decoder_positions = decoder_positions.get();
    return b;
  }
};

// Throws ModelError naming the file and what is wrong.
LoadedModel load_model_dir(const std::filesystem::path& dir,
                           GemmBackend gemm = default_gemm_backend());
// The same, from a config already read (and possibly adjusted) by the caller.
LoadedModel load_model(const ModelConfig& config, const std::filesystem::path& safetensors,
                       GemmBackend gemm = default_gemm_backend());

}  // namespace qkv::model
