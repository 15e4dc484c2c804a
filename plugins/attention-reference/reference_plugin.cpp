// The attention-reference plugin: exports reference_forward through the C ABI.
#include "reference_attention.hpp"

#include <qkv/plugin.hpp>

namespace {

class ReferenceAttention final : public qkv::sdk::Attention {
 public:
  static constexpr std::array<qkv_config_key, 0> config_keys{};  // none: any key is a typo

  ReferenceAttention(qkv::sdk::Host&, qkv::sdk::Config) {}
  void forward(const qkv_attention_args& args) override { qkv::attention::reference_forward(args); }
};

}  // namespace

QKV_PLUGIN(qkv::sdk::Attention, ReferenceAttention, "attention-reference", "1.0.0",
           "softmax(q k^T * scale + mask) v by definition, double accumulation (the oracle)")
