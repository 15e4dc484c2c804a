// Test plugin: a byte tokenizer (id = byte + `offset`), written with the C++ SDK layer.
// Built twice: "test-bytes" and, with TEST_NOT_THREAD_SAFE, "test-bytes-serial", which
// fails loudly if one instance is ever used by two threads at once; and, with
// TEST_IGNORE_MAX_LENGTH, "test-bytes-overlong", which returns every id whatever max_length is.
#include <qkv/plugin.hpp>

#include <atomic>
#include <thread>

namespace {

std::atomic<int> instances_created{0};

class Bytes : public qkv::sdk::Tokenizer {
 public:
  Bytes(qkv::sdk::Host& host, qkv::sdk::Config config)
      : offset_(config.integer_or<int32_t>("offset", 0)) {
    if (config.boolean_or("fail", false))
      throw qkv::sdk::Error(QKV_ERR_CONFIG, config.where("fail") + ": fail was requested");
    host.log(QKV_LOG_DEBUG, "test-bytes created");
    ++instances_created;
  }

  void encode(std::string_view text, const qkv::sdk::EncodeOptions& options,
              qkv::sdk::TokenSink& sink) override {
    Busy busy(busy_);
#ifdef TEST_IGNORE_MAX_LENGTH
    size_t budget = SIZE_MAX;
#else
    size_t budget = options.max_length ? options.max_length : SIZE_MAX;
#endif
    if (options.add_special && budget > 0) sink.push(kBos, 0, 0), --budget;
    const bool eos = options.add_special && budget > 0;
    if (eos) --budget;
    for (size_t i = 0; i < text.size() && budget > 0; ++i, --budget) {
      sink.push(static_cast<unsigned char>(text[i]) + offset_, uint32_t(i), uint32_t(i + 1));
#ifdef TEST_NOT_THREAD_SAFE
      if (i % 64 == 0) std::this_thread::yield();  // widen the window for overlapping calls
#endif
    }
    if (eos) sink.push(kEos, uint32_t(text.size()), uint32_t(text.size()));
  }

  void decode(std::span<const int32_t> ids, qkv::sdk::ByteSink& sink) override {
    std::string out;
    for (int32_t id : ids) {
      if (id == kBos || id == kEos) continue;
      int32_t b = id - offset_;
      if (b < 0 || b > 255)
        throw qkv::sdk::Error(QKV_ERR_INVALID_INPUT, "unknown token id " + std::to_string(id));
      out.push_back(static_cast<char>(b));
    }
    sink.append(out);
  }

  qkv_tokenizer_info info() override {
    qkv_tokenizer_info i{};
    i.vocab_size = 258 + offset_;
    i.bos_id = kBos;
    i.eos_id = kEos;
    i.pad_id = i.unk_id = i.cls_id = i.sep_id = i.mask_id = -1;
    return i;
  }

  int32_t token_to_id(std::string_view token) override {
    if (token == "<s>") return kBos;
    if (token == "</s>") return kEos;
    if (token == "#instances") return instances_created.load();  // for the pool test
    return -1;
  }

 private:
  // Counts callers inside one instance; a second concurrent one is a threading bug.
  struct Busy {
    explicit Busy(std::atomic<int>& n) : n_(n) {
#ifdef TEST_NOT_THREAD_SAFE
      if (n_.fetch_add(1) != 0) {
        n_.fetch_sub(1);
        throw qkv::sdk::Error(QKV_ERR_INTERNAL, "instance used by two threads at once");
      }
#else
      n_.fetch_add(1);
#endif
    }
    ~Busy() { n_.fetch_sub(1); }
    std::atomic<int>& n_;
  };

  static constexpr int32_t kBos = 1000, kEos = 1001;
  int32_t offset_;
  std::atomic<int> busy_{0};
};

}  // namespace

#ifdef TEST_NOT_THREAD_SAFE
QKV_PLUGIN_FLAGS(qkv::sdk::Tokenizer, Bytes, "test-bytes-serial", "1.0.0",
                 "byte tokenizer, one instance per thread", QKV_PLUGIN_FLAG_NOT_THREAD_SAFE)
#elif defined(TEST_IGNORE_MAX_LENGTH)
QKV_PLUGIN(qkv::sdk::Tokenizer, Bytes, "test-bytes-overlong", "1.0.0",
           "byte tokenizer that ignores max_length")
#else
QKV_PLUGIN(qkv::sdk::Tokenizer, Bytes, "test-bytes", "1.0.0", "byte tokenizer for host tests")
#endif
