// A model's positions come from positional plugins, never from the runtime itself (issue 9,
// item 2): by default each stack gets the bundled plugin that computes what its config.json's
// `positions` names, the way attention defaults to attention-flash (daemon/model/stage.cpp).
#pragma once

#include <memory>
#include <optional>

#include "config/pipeline_config.hpp"
#include "model/components.hpp"
#include "model/plugin_source.hpp"
#include "model/transformer.hpp"

namespace qkv::model {

// The plugin and config that give `stack` the positions `config` names, as a pipeline's
// model.positional would spell them; nullopt for Positions::None.
// - learned: positional-learned {tensor: the stack's table (StackWeights::positions_tensor)}
// - sinusoidal: positional-sinusoidal {base: sinusoidal_base, max_positions}
// - rotary: positional-rope {layout: neox, base: rope_base, max_positions; HF rope_scaling as
//   scaling, factor, low_freq_factor, high_freq_factor, original_max_positions}
std::optional<config::PluginRef> implied_positional(const ModelConfig& config,
                                                    const StackWeights& stack);

class ModelPositions {
 public:
  // `chosen` is the pipeline's model.positional: a plugin named there serves every stack;
  // none named, each stack gets its implied plugin. Throws PluginError (unknown plugin, a config
  // it refuses) or ModelError (a plugin built for another width than the model's).
  ModelPositions(const Transformer& model, const config::PluginRef& chosen,
                 const PluginSource& source);

  const PositionalEncoding* encoder() const noexcept { return encoder_.get(); }
  const PositionalEncoding* decoder() const noexcept { return decoder_.get(); }
  Components components(const Attention& attention) const;

 private:
  std::shared_ptr<const PositionalEncoding> encoder_, decoder_;  // null: none, or no such stack
};

}  // namespace qkv::model
