#include "model/stage.hpp"

#include "host/attention_handle.hpp"
#include "host/plugin_instance.hpp"
#include "model/error.hpp"
#include "model/generator.hpp"
#include "model/heads.hpp"
#include "model/hf_bart.hpp"
#include "model/model_dir.hpp"
#include "model/plugin_positions.hpp"
#include "model/st_folder.hpp"
#include "model/tensor_cache.hpp"

namespace qkv::model {

namespace {

class PluginAttention final : public Attention {
 public:
  explicit PluginAttention(std::shared_ptr<host::PluginInstance> i) : handle_(std::move(i)) {}
  void forward(const qkv_attention_args& args) const override { handle_.forward(args); }

 private:
  host::AttentionHandle handle_;
};

using Output = config::ModelOutput;

Transformer load_folder(const config::PipelineConfig::Model& m) {
  const std::filesystem::path folder = config::model_files(m);
  try {
    return load_model_dir(folder);
  } catch (const ModelError& e) {
    if (folder == m.path) throw;
    std::string message = e.what();  // name the folder the user gave, not the fd
    for (size_t at = message.find(folder.string()); at != std::string::npos;
         at = message.find(folder.string(), at + m.path.string().size()))
      message.replace(at, folder.string().size(), m.path.string());
    throw ModelError(message);
  }
}

std::vector<int64_t> lengths(std::span<const int32_t> cu) {
  std::vector<int64_t> n;
  for (size_t b = 0; b + 1 < cu.size(); ++b) n.push_back(cu[b + 1] - cu[b]);
  return n;
}

class TransformerStage final : public pipeline::ModelStage {
 public:
  explicit TransformerStage(const pipeline::ModelStageContext& ctx)
      : model_(load_folder(ctx.model)),
        dir_(ctx.model.path),
        files_(config::model_files(ctx.model)),
        output_(ctx.model.output),
        topk_(ctx.model.topk),
        source_{ctx.plugins, ctx.config_dir, ctx.source_file,
                TensorCache::lookup(std::make_shared<TensorCache>(files_ / "model.safetensors"))},
        attention_(source_.create(QKV_KIND_ATTENTION, ctx.model.attention, "attention-flash")),
        positions_(model_, ctx.model.positional, source_),
        folder_(read_sentence_transformers(files_)),
        dimensions_(ctx.model.dimensions),
        normalize_(ctx.model.normalize.value_or(folder_.normalize)) {
    const auto& c = model_.config();
    if ((output_ == Output::logprobs || output_ == Output::topk) && !c.has_decoder())
      throw ModelError(ctx.model.path.string() + ": model.output " + config::to_string(output_) +
                       " needs a decoder with an LM head; this model is an encoder");
    if (output_ == Output::pooled && folder_.pooling == Pooling::none)
      throw ModelError(ctx.model.path.string() +
                       ": model.output pooled needs a sentence-transformers Pooling module "
                       "(modules.json + 1_Pooling/config.json); none found: use pooled_cls, "
                       "pooled_mean, pooled_max or pooled_last");
  }

  size_t max_tokens(size_t field) const override {
    const auto& c = model_.config();
    const bool decoder_field =
        c.arch == Arch::Decoder || (c.arch == Arch::EncoderDecoder && field == 1);
    const PositionalEncoding* p = decoder_field ? positions_.decoder() : positions_.encoder();
    size_t n = p ? static_cast<size_t>(p->max_positions()) : 0;
    // sentence_bert_config.json's max_seq_length: the length the embedder was trained for.
    if (folder_.max_seq_length != 0 && (n == 0 || folder_.max_seq_length < n))
      n = folder_.max_seq_length;
    return n;
  }

  pipeline::TextConventions text_conventions() const override {
    return {folder_.prompts, folder_.default_prompt_name, folder_.do_lower_case,
            folder_.include_prompt};
  }

  pipeline::StageOutput run(const pipeline::TokenBatch& batch) const override {
    const auto& t = model_;
    const auto& c = t.config();
    const Components b = positions_.components(attention_);
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
      if (c.shift_tgt_right) {
        const auto input = shift_tokens_right(ids, cu, int32_t(c.decoder_start_token_id));
        hidden = t.decode({input, cu}, b, memory, batch.cu_seqlens[0]);
      } else {
        hidden = t.decode({ids, cu}, b, memory, batch.cu_seqlens[0]);
      }
    }
    pipeline::StageOutput out;
    const auto rows = lengths(cu);
    const std::vector<int64_t> ones(rows.size(), 1);
    switch (output_) {
      case Output::hidden:
        out.tensors.push_back({"", c.d_model, false, std::move(hidden), rows});
        break;
      case Output::pooled:
      case Output::pooled_cls:
      case Output::pooled_mean:
      case Output::pooled_max:
      case Output::pooled_last: {
        const uint32_t w = dimensions_ == 0 ? c.d_model : std::min(dimensions_, c.d_model);
        // unpooled counts field 0's tokens: only that field is pooled when it is the only one.
        const std::span<const uint32_t> unpooled =
            fields == 1 ? std::span<const uint32_t>(batch.unpooled) : std::span<const uint32_t>();
        out.tensors.push_back(
            {"", w, true, finish_embeddings(pool(hidden, cu, unpooled), c.d_model, w, normalize_),
             ones});
        break;
      }
      case Output::logprobs: {
        auto s = c.shift_tgt_right
                     ? label_scores(t.gemm_kernel(), t.weights().lm_head, hidden, ids, cu)
                     : next_token_scores(t.gemm_kernel(), t.weights().lm_head, hidden, ids, cu);
        out.tensors.push_back({"", 1, false, std::move(s.logprobs), rows});
        out.tensors.push_back({".perplexity", 1, true, std::move(s.perplexity), ones});
        break;
      }
      case Output::topk: {
        auto k = top_k_logits(t.gemm_kernel(), t.weights().lm_head, hidden, topk_);
        std::vector<float> id_values(k.ids.begin(), k.ids.end());  // exact below 2^24
        const uint32_t w = std::min(topk_, c.vocab_size);
        out.tensors.push_back({"", w, false, std::move(k.logits), rows});
        out.tensors.push_back({".topk_ids", w, false, std::move(id_values), rows});
        break;
      }
    }
    return out;
  }

  std::unique_ptr<pipeline::Generator> generator(
      const pipeline::GenerateSetup& setup) const override {
    const auto& c = model_.config();
    if (!c.has_decoder())
      throw ModelError(dir_.string() +
                       ": generate: needs a decoder with an LM head; this model "
                       "is an encoder");
    const PositionalEncoding* p = positions_.decoder();
    return make_generator(model_, positions_.components(attention_),
                          p ? static_cast<uint32_t>(p->max_positions()) : 0, setup,
                          generation_ids(c, files_, setup));
  }

 private:
  // An explicit pooled_* names its pooling; `pooled` takes the folder's.
  std::vector<float> pool(std::span<const float> hidden, std::span<const int32_t> cu,
                          std::span<const uint32_t> unpooled) const {
    const uint32_t d = model_.config().d_model;
    Pooling p = folder_.pooling;
    if (output_ == Output::pooled_cls) p = Pooling::cls;
    if (output_ == Output::pooled_mean) p = Pooling::mean;
    if (output_ == Output::pooled_max) p = Pooling::max;
    if (output_ == Output::pooled_last) p = Pooling::last;
    switch (p) {
      case Pooling::cls:
        return pool_cls(hidden, d, cu);
      case Pooling::max:
        return pool_max(hidden, d, cu, unpooled);
      case Pooling::last:
        return pool_last(hidden, d, cu);
      case Pooling::mean:
      case Pooling::none:
        break;
    }
    return pool_mean(hidden, d, cu, unpooled);
  }

  Transformer model_;
  std::filesystem::path dir_;    // the folder as the pipeline names it, for messages
  std::filesystem::path files_;  // where its files are read (model_folder)
  Output output_;
  uint32_t topk_;
  PluginSource source_;
  PluginAttention attention_;
  ModelPositions positions_;
  SentenceTransformersFolder folder_;
  uint32_t dimensions_;
  bool normalize_;
};

}  // namespace

std::unique_ptr<pipeline::ModelStage> make_model_stage(const pipeline::ModelStageContext& context) {
  return std::make_unique<TransformerStage>(context);
}

}  // namespace qkv::model
