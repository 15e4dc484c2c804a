// The threading contract: thread-safe plugins share one instance; a NOT_THREAD_SAFE plugin never
// has two threads in one instance. Also run under TSan (label daemon).
#include <yaml-cpp/yaml.h>

#include "host/plugin_registry.hpp"
#include "host/tokenizer_handle.hpp"
#include "test_plugins.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace qkv::host {
namespace {

using test::plugin_file;

// Each test loads a private copy: a fresh image, so the plugin's instance counter starts at 0.
TokenizerHandle fresh_tokenizer(PluginRegistry& registry, const char* file, const char* name) {
  EXPECT_TRUE(registry.load_file(plugin_file(file), LoadMode::private_copy));
  return TokenizerHandle(
      create_instance(registry.require(QKV_KIND_TOKENIZER, name), YAML::Load("offset: 1"), "/"));
}

// Runs `threads` workers, each encoding `text` `rounds` times; returns how many calls failed.
int hammer(const TokenizerHandle& tok, int threads, int rounds, const std::string& text) {
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      std::vector<int32_t> ids;
      for (int i = 0; i < rounds; ++i) {
        ids.clear();
        try {
          tok.encode(text, encode_options(), ids);
          if (ids.size() != text.size() || ids.front() != text.front() + 1) ++failures;
          if (tok.info().vocab_size != 259) ++failures;
        } catch (const PluginError&) {
          ++failures;
        }
      }
    });
  for (auto& w : workers) w.join();
  return failures.load();
}

TEST(HostThreading, NotThreadSafePluginGetsOneInstancePerConcurrentCaller) {
  PluginRegistry registry;
  TokenizerHandle tok = fresh_tokenizer(registry, "test_bytes_serial", "test-bytes-serial");
  EXPECT_FALSE(tok.plugin().thread_safe());
  EXPECT_EQ(hammer(tok, 4, 40, std::string(4096, 'x')), 0);
  const int32_t made = tok.token_to_id("#instances");
  EXPECT_GE(made, 1);
  EXPECT_LE(made, 4);  // never more than one per concurrent caller
}

TEST(HostThreading, ThreadSafePluginSharesOneInstance) {
  PluginRegistry registry;
  TokenizerHandle tok = fresh_tokenizer(registry, "test_bytes", "test-bytes");
  EXPECT_TRUE(tok.plugin().thread_safe());
  EXPECT_EQ(hammer(tok, 4, 40, std::string(1024, 'y')), 0);
  EXPECT_EQ(tok.token_to_id("#instances"), 1);
}

TEST(HostThreading, HandlesAndRegistryLookupsFromManyThreads) {
  PluginRegistry registry;
  registry.load_directory(test::plugin_dir());
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t)
    workers.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        const LoadedPlugin* p = registry.find(QKV_KIND_TOKENIZER, "test-bytes");
        if (!p) {
          ++failures;
          continue;
        }
        // Instances made concurrently from one plugin, each reading its own config.
        TokenizerHandle tok(create_instance(*p, YAML::Load("offset: 2"), "/"));
        if (tok.encode("a") != std::vector<int32_t>{'a' + 2}) ++failures;
      }
    });
  for (auto& w : workers) w.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace qkv::host
