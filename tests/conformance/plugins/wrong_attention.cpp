// A deliberately wrong attention plugin for the conformance tests: the plain definition with
// one flaw switched on at compile time (WRONG_NO_CAUSAL forgets the causal mask,
// WRONG_NO_SCALE ignores a custom scale). qkv-conformance must fail it and name the class.
#include <qkv/plugin.hpp>

#include "naive_attention.hpp"

namespace {

class WrongAttention final : public qkv::sdk::Attention {
 public:
  WrongAttention(qkv::sdk::Host&, qkv::sdk::Config) {}
  void forward(const qkv_attention_args& args) override {
    qkv::conformance::NaiveFlaws flaws;
#ifdef WRONG_NO_CAUSAL
    flaws.ignore_causal = true;
#endif
#ifdef WRONG_NO_SCALE
    flaws.ignore_scale = true;
#endif
    qkv::conformance::naive_attention(args, flaws);
  }
};

}  // namespace

QKV_PLUGIN(qkv::sdk::Attention, WrongAttention, WRONG_NAME, "0.0.1",
           "deliberately wrong attention (conformance tests)")
