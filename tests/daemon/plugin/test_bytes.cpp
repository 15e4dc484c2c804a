// A tokenizer plugin for the daemon tests only: ids are the text's bytes (so tests compute
// expected outputs independently), with knobs to make jobs slow (delay_us per document), to
// crash the process on a marker text (crash_on: abort; segv_on: a real invalid write;
// overflow_on: unbounded recursion until the stack's guard page), for the
// suspect rule and crash attribution (tests/reliability/crash_attribution_test.cpp), to hold a
// job until a file exists (wait_for), the deterministic seam of the TOCTOU tests, to hang in
// encode on a marker text until a file appears (hang_on, hang_release), and to load a
// "vocabulary" file slowly at creation (vocab, read through config_path; vocab_delay_us per MiB).
#include <fcntl.h>
#include <qkv/plugin.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

// Opaque to the compiler, so the write below is a real fault, not an optimized-away trap.
volatile std::uintptr_t bad_address = 0;

// Recursion the compiler can neither flatten nor turn into a loop: each frame keeps 4 KiB
// live across the call, so the thread's stack runs out within a few thousand frames.
__attribute__((noinline)) std::uintptr_t recurse(std::uintptr_t depth) {
  volatile char frame[4096];
  if (depth == ~std::uintptr_t{0}) return 0;  // never: a base case keeps -Winfinite-recursion quiet
  frame[depth % sizeof frame] = static_cast<char>(depth);
  return recurse(depth + 1) + frame[(depth * 7) % sizeof frame];
}

class TestBytes final : public qkv::sdk::Tokenizer {
 public:
  TestBytes(qkv::sdk::Host&, qkv::sdk::Config cfg)
      : delay_us_(cfg.integer_or<long>("delay_us", 0)),
        crash_on_(cfg.string_or("crash_on", "")),
        wait_for_(cfg.string_or("wait_for", "")),
        segv_on_(cfg.string_or("segv_on", "")),
        overflow_on_(cfg.string_or("overflow_on", "")),
        hang_on_(cfg.string_or("hang_on", "")),
        hang_release_(cfg.string_or("hang_release", "")) {
    if (cfg.has("vocab")) load(cfg.path("vocab"), cfg.integer_or<long>("vocab_delay_us", 0));
  }

  void encode(std::string_view text, const qkv::sdk::EncodeOptions&,
              qkv::sdk::TokenSink& sink) override {
    if (!crash_on_.empty() && text.find(crash_on_) != std::string_view::npos) std::abort();
    if (!segv_on_.empty() && text.find(segv_on_) != std::string_view::npos)
      *reinterpret_cast<volatile int*>(bad_address) = 1;
    if (!overflow_on_.empty() && text.find(overflow_on_) != std::string_view::npos)
      bad_address = recurse(bad_address);
    if (!hang_on_.empty() && text.find(hang_on_) != std::string_view::npos) hang();
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
  // Writes <hang_release>.started, then blocks (ignoring cancel, like a stuck plugin) until
  // <hang_release> exists; 10 minutes at most, so a forgotten test cannot hang forever.
  void hang() const {
    std::ofstream(hang_release_ + ".started") << "hanging\n";
    auto end = std::chrono::steady_clock::now() + std::chrono::minutes(10);
    while (!std::filesystem::exists(hang_release_) && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Reads the whole file in 1 MiB pieces (as a vocabulary loader would, without keeping it),
  // after writing <file>.loading so a test knows the load has begun.
  static void load(const std::string& file, long delay_us_per_mib) {
    std::ofstream(file + ".loading") << "loading\n";
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw qkv::sdk::Error(QKV_ERR_IO, file + ": cannot open");
    std::vector<char> buf(1 << 20);
    while (::read(fd, buf.data(), buf.size()) > 0)
      if (delay_us_per_mib > 0)
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us_per_mib));
    ::close(fd);
  }

  long delay_us_;
  std::string crash_on_;
  std::string wait_for_;  // a plain string, not a path key: only its existence is tested
  std::string segv_on_;
  std::string overflow_on_;
  std::string hang_on_, hang_release_;
};

}  // namespace

QKV_PLUGIN(qkv::sdk::Tokenizer, TestBytes, "test-bytes", "1.0.0", "daemon tests: ids are bytes")
