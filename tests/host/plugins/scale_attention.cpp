// Test plugin: "attention" that writes out = v * w, where w is element 0 of the model tensor
// named by config key `tensor` (fetched through the host at create time).
#include <qkv/plugin.hpp>

namespace {

class ScaleV : public qkv::sdk::Attention {
 public:
  ScaleV(qkv::sdk::Host& host, qkv::sdk::Config config) {
    qkv_tensor_view t = host.tensor(config.required_string("tensor"));
    if (t.ndim < 1 || t.shape[0] < 1)
      throw qkv::sdk::Error(QKV_ERR_INVALID_INPUT, "tensor is empty");
    w_ = t.data[0];
  }

  void forward(const qkv_attention_args& a) override {
    const size_t width = size_t(a.heads_kv) * a.head_dim;
    const size_t tokens = size_t(a.cu_seqlens_k[a.batch]);
    for (size_t t = 0; t < tokens; ++t)
      for (size_t i = 0; i < width; ++i)
        a.out[t * (a.out_stride ? a.out_stride : width) + i] =
            w_ * a.v[t * (a.v_stride ? a.v_stride : width) + i];
  }

 private:
  float w_ = 0;
};

}  // namespace

QKV_PLUGIN(qkv::sdk::Attention, ScaleV, "test-scale-v", "1.0.0", "out = w * v, for host tests")
