#include "pipeline/model_stage.hpp"

namespace qkv {
namespace {
ModelStageFactory& factory_slot() {
  static ModelStageFactory factory;
  return factory;
}
}  // namespace

void set_model_stage_factory(ModelStageFactory factory) { factory_slot() = std::move(factory); }
const ModelStageFactory& model_stage_factory() { return factory_slot(); }

}  // namespace qkv
