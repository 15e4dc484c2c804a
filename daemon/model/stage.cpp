#include "model/stage.hpp"

#include <map>
#include <mutex>

#include "host/attention_handle.hpp"
#include "host/plugin_instance.hpp"
#include "host/plugin_registry.hpp"
#include "host/positional_handle.hpp"
#include "model/error.hpp"
#include "model/heads.hpp"
#include "model/model_dir.hpp"
#include "model/safetensors.hpp"

namespace qkv::model {

namespace {

class PluginAttention final : public AttentionBackend {
 public:
  explicit PluginAttention(std::shared_ptr<host::PluginInstance> i) : handle_(std::move(i)) {}
  void forward(const qkv_attention_args& args) const override { handle_.forward(args); }

 private:
  host::AttentionHandle handle_;
};

class PluginPositions final : public PositionalBackend {
 public:
  explicit PluginPositions(std::shared_ptr<host::PluginInstance> i) : handle_(std::move(i)) {}
  bool rotary() const override { return handle_.rotary(); }
  int64_t max_positions() const override { return handle_.info().max_positions; }
  void add(float* x, uint32_t dim, size_t stride, std::span<const int32_t> pos) const override {
    handle_.add(x, dim, stride, pos);
  }
  void rotate(float* x, uint32_t heads, uint32_t hd, size_t stride,
              std::span<const int32_t> pos) const override {
    handle_.rotate(x, heads, hd, stride, pos);
  }

 private:
  host::PositionalHandle handle_;
};

// Serves model tensors to plugins by checkpoint name (e.g. a learned position table), converted
// to f32 on first use and kept for the stage's life.
class TensorCache {
 public:
  explicit TensorCache(std::filesystem::path file) : file_(std::move(file)) {}
  std::optional<qkv_tensor_view> get(std::string_view name) {
    std::lock_guard lock(mutex_);
    if (!st_) st_ = std::make_unique<SafetensorsFile>(SafetensorsFile::open(file_));
    const auto* e = st_->find(name);
    if (!e || e->shape.size() > 8) return std::nullopt;
    auto& data = cache_[std::string(name)];
    if (data.empty()) data = st_->to_f32(*e);
    qkv_tensor_view v{};
    v.struct_size = sizeof v;
    v.ndim = static_cast<uint32_t>(e->shape.size());
    for (size_t i = 0; i < e->shape.size(); ++i) v.shape[i] = e->shape[i];
    v.data = data.data();
    return v;
  }

 private:
  std::filesystem::path file_;
  std::mutex mutex_;
  std::unique_ptr<SafetensorsFile> st_;
  std::map<std::string, std::vector<float>, std::less<>> cache_;
};

using Output = config::ModelOutput;

std::vector<int64_t> lengths(std::span<const int32_t> cu) {
  std::vector<int64_t> n;
  for (size_t b = 0; b + 1 < cu.size(); ++b) n.push_back(cu[b + 1] - cu[b]);
  return n;
}

class TransformerStage final : public ModelStage {
 public:
  explicit TransformerStage(const ModelStageContext& ctx) : output_(ctx.model.output) {
    const auto& m = ctx.model;
    model_ = load_model_dir(m.path);
    const auto& c = model_.transformer->config();
    topk_ = m.topk;
    if ((output_ == Output::logprobs || output_ == Output::topk) && !c.has_decoder())
      throw ModelError(m.path.string() + ": model.output " + config::to_string(output_) +
                       " needs a decoder with an LM head; this model is an encoder");

    if (!ctx.plugins) throw ModelError("model: no plugin registry for the attention backend");
    tensors_ = std::make_shared<TensorCache>(m.path / "model.safetensors");
    auto make = [&](qkv_kind kind, const config::PluginRef& ref,
                    const std::string& fallback) -> std::shared_ptr<host::PluginInstance> {
      const std::string& name = ref.plugin.empty() ? fallback : ref.plugin;
      if (name.empty()) return nullptr;
      const auto& plugin = ctx.plugins->require(kind, name);
      auto cache = tensors_;
      return host::create_instance(plugin, ref.config, ctx.config_dir, ctx.source_file,
                                   [cache](std::string_view n) { return cache->get(n); });
    };
    attention_ =
        std::make_unique<PluginAttention>(make(QKV_KIND_ATTENTION, m.attention, "attention-flash"));
    if (auto pos = make(QKV_KIND_POSITIONAL, m.positional, ""))
      positions_ = std::make_unique<PluginPositions>(pos);
  }

  size_t max_tokens(size_t field) const override {
    const auto& c = model_.transformer->config();
    const bool decoder_field =
        c.arch == Arch::Decoder || (c.arch == Arch::EncoderDecoder && field == 1);
    const PositionalBackend* p = positions_ ? positions_.get()
                                            : (decoder_field ? model_.decoder_positions.get()
                                                             : model_.encoder_positions.get());
    return p ? static_cast<size_t>(p->max_positions()) : 0;
  }

  StageOutput run(const TokenBatch& batch) const override {
    const auto& t = *model_.transformer;
    const auto& c = t.config();
    Backends b = model_.backends(*attention_);
    if (positions_) b.encoder_positions = b.decoder_positions = positions_.get();
    const size_t fields = c.arch == Arch::EncoderDecoder ? 2 : 1;
    if (batch.ids.size() < fields || batch.cu_seqlens.size() < fields)
      throw ModelError(c.arch == Arch::EncoderDecoder
                           ? "an encoder-decoder model needs two input fields (src, tgt)"
                           : "the model stage got no tokens");
    std::vector<float> hidden;
    const auto& ids = batch.ids[fields - 1];
    const auto& cu = batch.cu_seqlens[fields - 1];
    if (c.arch == Arch::Encoder) {
      hidden = t.encode({ids, cu}, b);
    } else if (c.arch == Arch::Decoder) {
      hidden = t.decode({ids, cu}, b);
    } else {
      const auto memory = t.encode({batch.ids[0], batch.cu_seqlens[0]}, b);
      hidden = t.decode({ids, cu}, b, memory, batch.cu_seqlens[0]);
    }
    StageOutput out;
    const auto rows = lengths(cu);
    const std::vector<int64_t> ones(rows.size(), 1);
    switch (output_) {
      case Output::hidden:
        out.tensors.push_back({"", c.d_model, false, std::move(hidden), rows});
        break;
      case Output::pooled_cls:
        out.tensors.push_back({"", c.d_model, true, pool_cls(hidden, c.d_model, cu), ones});
        break;
      case Output::pooled_mean:
        out.tensors.push_back({"", c.d_model, true, pool_mean(hidden, c.d_model, cu), ones});
        break;
      case Output::logprobs: {
        auto s = next_token_scores(t.gemm_backend(), t.weights().lm_head, hidden, ids, cu);
        out.tensors.push_back({"", 1, false, std::move(s.logprobs), rows});
        out.tensors.push_back({".perplexity", 1, true, std::move(s.perplexity), ones});
        break;
      }
      case Output::topk: {
        auto k = top_k_logits(t.gemm_backend(), t.weights().lm_head, hidden, topk_);
        std::vector<float> id_values(k.ids.begin(), k.ids.end());  // exact below 2^24
        const uint32_t w = std::min(topk_, c.vocab_size);
        out.tensors.push_back({"", w, false, std::move(k.logits), rows});
        out.tensors.push_back({".topk_ids", w, false, std::move(id_values), rows});
        break;
      }
    }
    return out;
  }

 private:
  LoadedModel model_;
  Output output_;
  uint32_t topk_ = 5;
  std::shared_ptr<TensorCache> tensors_;
  std::unique_ptr<AttentionBackend> attention_;
  std::unique_ptr<PositionalBackend> positions_;
};

}  // namespace

std::unique_ptr<ModelStage> make_model_stage(const ModelStageContext& context) {
  return std::make_unique<TransformerStage>(context);
}

}  // namespace qkv::model
