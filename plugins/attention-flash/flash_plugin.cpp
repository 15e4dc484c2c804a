// The attention-flash plugin: exports flash_forward through the C ABI.
#include "flash_attention.hpp"

#include <qkv/plugin.hpp>

namespace {

class FlashAttention final : public qkv::sdk::Attention {
 public:
  static constexpr std::array<qkv_config_key, 0> config_keys{};  // none: any key is a typo

  FlashAttention(qkv::sdk::Host& host, qkv::sdk::Config) {
    host.log(QKV_LOG_DEBUG,
             std::string("attention-flash: SIMD target ") + qkv::attention::flash_target_name());
  }
  void forward(const qkv_attention_args& args) override { qkv::attention::flash_forward(args); }
};

}  // namespace

QKV_PLUGIN(qkv::sdk::Attention, FlashAttention, "attention-flash", "1.0.0",
           "tiled online-softmax attention, Highway SIMD (run-time dispatch) + oneTBB")
