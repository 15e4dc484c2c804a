// A plugin built against a frozen copy of the headers (tests/abi/v1 or v1_1), not the current
// SDK. Exercises every v1 host service it can: config scalars, lists, where, paths, logging,
// errors.
#include <qkv/plugin.hpp>

#include <string>
#include <vector>

namespace {

class FrozenV1 : public qkv::sdk::Tokenizer {
 public:
  FrozenV1(qkv::sdk::Host& host, qkv::sdk::Config config)
      : base_(config.integer_or<int32_t>("base", 0)),
        where_(config.where("base")),
        data_(config.path("data")) {
    for (size_t i = 0, n = config.list_size("words"); i < n; ++i)
      words_.push_back(config.required_string("words." + std::to_string(i)));
    host.log(QKV_LOG_DEBUG, "abi-v1 plugin created");
  }

  // ids: base + byte value; offsets per byte.
  void encode(std::string_view text, const qkv::sdk::EncodeOptions& options,
              qkv::sdk::TokenSink& sink) override {
    (void)options;
    for (size_t i = 0; i < text.size(); ++i)
      sink.push(base_ + static_cast<unsigned char>(text[i]), uint32_t(i), uint32_t(i + 1));
  }
  void decode(std::span<const int32_t> ids, qkv::sdk::ByteSink& sink) override {
    std::string out;
    for (int32_t id : ids) {
      if (id < base_ || id >= base_ + 256)
        throw qkv::sdk::Error(QKV_ERR_INVALID_INPUT, "id out of range");
      out.push_back(static_cast<char>(id - base_));
    }
    sink.append(out);
  }
  qkv_tokenizer_info info() override {
    qkv_tokenizer_info i{};
    i.vocab_size = uint32_t(base_ + 256);
    i.bos_id = i.eos_id = i.pad_id = i.unk_id = i.cls_id = i.sep_id = i.mask_id = -1;
    return i;
  }
  // Answers what it read from its config, so the host test can check the services.
  int32_t token_to_id(std::string_view token) override {
    if (token == "#words") return int32_t(words_.size());
    if (token == "#where-ok") return where_.find(":2:7") != std::string::npos ? 1 : 0;
    if (token == "#data-ok") return data_ == "/srv/qkv/data/file.bin" ? 1 : 0;
    for (size_t i = 0; i < words_.size(); ++i)
      if (words_[i] == token) return int32_t(i);
    return -1;
  }

 private:
  int32_t base_;
  std::string where_;
  std::string data_;
  std::vector<std::string> words_;
};

}  // namespace

QKV_PLUGIN(qkv::sdk::Tokenizer, FrozenV1, "abi-v1-frozen", "1.0.0",
           "built against the frozen v1 headers")
