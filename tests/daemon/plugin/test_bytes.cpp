// A tokenizer plugin for the daemon tests only: ids are the text's bytes (so tests compute
// expected outputs independently), with knobs to make jobs slow (delay_us per document) and
// to crash the process on a marker text (crash_on: abort; segv_on: a real invalid write), for
// the suspect rule and crash attribution (tests/reliability/crash_attribution_test.cpp), and to
// hold a job until a file exists (wait_for), the deterministic seam of the TOCTOU tests.
#include <qkv/plugin.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstdint>
#include <string>
#include <thread>

namespace {

// Opaque to the compiler, so the write below is a real fault, not an optimized-away trap.
volatile std::uintptr_t bad_address = 0;

class TestBytes final : public qkv::sdk::Tokenizer {
 public:
  TestBytes(qkv::sdk::Host&, qkv::sdk::Config cfg)
      : delay_us_(cfg.integer_or<long>("delay_us", 0)),
        crash_on_(cfg.string_or("crash_on", "")),
        wait_for_(cfg.string_or("wait_for", "")),
        segv_on_(cfg.string_or("segv_on", "")) {}

  void encode(std::string_view text, const qkv::sdk::EncodeOptions&,
              qkv::sdk::TokenSink& sink) override {
    if (!crash_on_.empty() && text.find(crash_on_) != std::string_view::npos) std::abort();
    if (!segv_on_.empty() && text.find(segv_on_) != std::string_view::npos)
      *reinterpret_cast<volatile int*>(bad_address) = 1;
    if (delay_us_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay_us_));
    while (!wait_for_.empty() && ::access(wait_for_.c_str(), F_OK) != 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (unsigned char c : text) sink.push(c);
  }
  void decode(std::span<const int32_t> ids, qkv::sdk::ByteSink& sink) override {
    std::string out;
    for (int32_t id : ids) {
      if (id < 0 || id > 255) throw qkv::sdk::Error(QKV_ERR_INVALID_INPUT, "id out of range");
      out.push_back(char(id));
    }
    sink.append(out);
  }
  qkv_tokenizer_info info() override {
    qkv_tokenizer_info i{};
    i.vocab_size = 256;
    i.bos_id = i.eos_id = i.pad_id = i.unk_id = i.cls_id = i.sep_id = i.mask_id = -1;
    return i;
  }
  int32_t token_to_id(std::string_view) override { return -1; }

 private:
  long delay_us_;
  std::string crash_on_;
  std::string wait_for_;  // a plain string, not a path key: only its existence is tested
  std::string segv_on_;
};

}  // namespace

QKV_PLUGIN(qkv::sdk::Tokenizer, TestBytes, "test-bytes", "1.0.0", "daemon tests: ids are bytes")
