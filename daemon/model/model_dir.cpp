#include "model/model_dir.hpp"

#include "model/error.hpp"
#include "model/safetensors.hpp"

namespace qkv::model {

Transformer load_model(const ModelConfig& config, const std::filesystem::path& safetensors,
                       GemmKernel gemm) {
  const auto file = SafetensorsFile::open(safetensors);
  return Transformer(config, load_weights(config, file), gemm);
}

Transformer load_model_dir(const std::filesystem::path& dir, GemmKernel gemm) {
  if (!std::filesystem::is_directory(dir))
    throw ModelError(dir.string() +
                     ": model directory not found (expected config.json + model.safetensors)");
  return load_model(load_config(dir), dir / "model.safetensors", gemm);
}

}  // namespace qkv::model
