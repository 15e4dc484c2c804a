// An attention plugin built against a frozen copy of the headers (tests/abi/v1 for ABI 1.0,
// tests/abi/v1_1 for 1.1). It reports what the host handed it (struct_size, mask) in the first
// two output floats, so the host test can check that each is given what its ABI covers.
#include <qkv/plugin.hpp>

namespace {

class FrozenV1Attention : public qkv::sdk::Attention {
 public:
  FrozenV1Attention(qkv::sdk::Host&, qkv::sdk::Config) {}
  void forward(const qkv_attention_args& args) override {
    args.out[0] = static_cast<float>(args.struct_size);
    args.out[1] = static_cast<float>(args.mask);
  }
};

}  // namespace

QKV_PLUGIN(qkv::sdk::Attention, FrozenV1Attention, "abi-v1-frozen-attention", "1.0.0",
           "built against frozen headers; echoes the call's struct_size")
