// Test plugin: "attention" that writes out = v * w, where w is element 0 of the model tensor
// named by config key `tensor` (fetched through the host at create time). When the model has
// no such tensor and `default_w` is set, it handles the host's error itself (reads it and frees
// it, ABI 1.1) and uses default_w; the error's message is logged.
#include <qkv/plugin.hpp>

namespace {

class ScaleV : public qkv::sdk::Attention {
 public:
  ScaleV(qkv::sdk::Host& host, qkv::sdk::Config config) {
    const std::string name = config.required_string("tensor");
    if (config.has("default_w")) {
      qkv_tensor_view found{};
      found.struct_size = sizeof found;
      if (qkv_error* e = host.raw()->tensor_get(host.raw()->ctx, name.c_str(), &found)) {
        const qkv::sdk::Host::ErrorInfo info = host.take_error(e);
        if (info.code != QKV_ERR_INVALID_INPUT) throw qkv::sdk::Error(info.code, info.message);
        host.log(QKV_LOG_INFO, "using default_w: " + info.message);
        w_ = static_cast<float>(config.number_or("default_w", 0));
        return;
      }
    }
    qkv_tensor_view t = host.tensor(name);
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
