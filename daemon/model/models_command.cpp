#include "model/models_command.hpp"

#include <iostream>
#include <memory>
#include <string>

#include "model/inspect.hpp"

namespace qkv::model {

void register_models_command(CLI::App& app, int& exit_code) {
  CLI::App* models = app.add_subcommand("models", "Model directories");
  models->require_subcommand(1);
  CLI::App* inspect = models->add_subcommand(
      "inspect",
      "Print what qkv would load from DIR (family, shapes, dtypes, parameters, ignored "
      "tensors); exit 1 when it would be refused");
  auto dir = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  inspect->add_option("DIR", *dir, "Model directory (config.json + model.safetensors)")->required();
  inspect->add_flag("--json", *json, "One JSON object instead of text");
  inspect->callback(
      [dir, json, &exit_code] { exit_code = inspect_model_dir(*dir, *json, std::cout); });
}

}  // namespace qkv::model
