// The services table plugins see: config lookups with dotted paths and list indices,
// file:line:column, paths relative to the config file, errors and tensors.
#include <yaml-cpp/yaml.h>

#include "host/host_services.hpp"
#include "host/plugin_error.hpp"

#include <qkv/plugin.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace qkv::host {
namespace {

using ::testing::HasSubstr;

const char* kYaml =
    "encoding: cl100k_base\n"
    "ranks: ../vocab/x.tiktoken\n"
    "lowercase: true\n"
    "layouts:\n"
    "  - {name: a, size: 4}\n"
    "  - {name: b, size: 8}\n"
    "nothing: ~\n"
    "abs: /etc/hosts\n"
    "specials: {\"<|endoftext|>\": 50256, a.b: 7}\n"
    "names: [x, \"y z\"]\n";

struct HostServicesTest : ::testing::Test {
  HostServices services{"test", InstanceConfig{ConfigValue::from_yaml(YAML::Load(kYaml)),
                                               "/etc/qkv/pipelines",
                                               "/etc/qkv/pipelines/p.yaml",
                                               {}}};
  const qkv_host* h = services.table();
  const qkv_config* cfg = services.config();

  std::string text_of(const char* path) {
    const char* text = nullptr;
    size_t size = 0;
    EXPECT_EQ(h->config_get(h->ctx, cfg, path, &text, &size), QKV_VALUE_SCALAR) << path;
    return text ? std::string(text, size) : "";
  }
  qkv_value_type type_of(const char* path, size_t* size = nullptr) {
    const char* text = nullptr;
    size_t ignored = 0;
    return h->config_get(h->ctx, cfg, path, &text, size ? size : &ignored);
  }
  std::string where(const char* path) {
    char buf[256];
    h->config_where(h->ctx, cfg, path, buf, sizeof buf);
    return buf;
  }
};

TEST_F(HostServicesTest, TableDeclaresItsVersion) {
  EXPECT_EQ(h->struct_size, sizeof(qkv_host));
  EXPECT_EQ(h->abi_major, QKV_ABI_MAJOR);
  EXPECT_EQ(h->abi_minor, QKV_ABI_MINOR);
}

TEST_F(HostServicesTest, ScalarsListsMapsNullsAndMissing) {
  EXPECT_EQ(text_of("encoding"), "cl100k_base");
  EXPECT_EQ(text_of("lowercase"), "true");
  EXPECT_EQ(text_of("layouts.1.name"), "b");
  EXPECT_EQ(text_of("layouts.0.size"), "4");
  size_t n = 0;
  EXPECT_EQ(type_of("layouts", &n), QKV_VALUE_LIST);
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(type_of("layouts.0", &n), QKV_VALUE_MAP);
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(type_of(""), QKV_VALUE_MAP);
  EXPECT_EQ(type_of("nothing"), QKV_VALUE_NULL);
  EXPECT_EQ(type_of("absent"), QKV_VALUE_MISSING);
  EXPECT_EQ(type_of("layouts.2"), QKV_VALUE_MISSING);
  EXPECT_EQ(type_of("layouts.x"), QKV_VALUE_MISSING);
  EXPECT_EQ(type_of("encoding.deeper"), QKV_VALUE_MISSING);
  // Lookups of missing keys must not add them.
  EXPECT_EQ(type_of(""), QKV_VALUE_MAP);
  size_t keys = 0;
  type_of("", &keys);
  EXPECT_EQ(keys, 8u);
}

TEST_F(HostServicesTest, WhereGivesOneBasedFileLineColumn) {
  EXPECT_EQ(where("ranks"), "/etc/qkv/pipelines/p.yaml:2:8");
  EXPECT_EQ(where("layouts.1.size"), "/etc/qkv/pipelines/p.yaml:6:21");
  // A missing key points at the deepest part that exists.
  EXPECT_EQ(where("layouts.1.missing"), "/etc/qkv/pipelines/p.yaml:6:5");
  // Truncation keeps the buffer NUL-terminated and reports the needed length.
  char small[8];
  size_t needed = h->config_where(h->ctx, cfg, "ranks", small, sizeof small);
  EXPECT_EQ(needed, std::string("/etc/qkv/pipelines/p.yaml:2:8").size() + 1);
  EXPECT_EQ(std::string(small), "/etc/qk");
}

TEST_F(HostServicesTest, PathsResolveAgainstTheConfigFolder) {
  const char* out = nullptr;
  ASSERT_EQ(h->config_path(h->ctx, cfg, "ranks", &out), nullptr);
  EXPECT_STREQ(out, "/etc/qkv/vocab/x.tiktoken");
  ASSERT_EQ(h->config_path(h->ctx, cfg, "abs", &out), nullptr);
  EXPECT_STREQ(out, "/etc/hosts");
  qkv_error* e = h->config_path(h->ctx, cfg, "vocab", &out);
  ASSERT_NE(e, nullptr);
  EXPECT_THAT([&] { throw_if_error(e, "ctx"); },
              ::testing::ThrowsMessage<PluginError>(HasSubstr("'vocab': expected a file path")));
}

TEST_F(HostServicesTest, ErrorsAndTensorsWithoutAModel) {
  qkv_error* e = h->error_new(h->ctx, QKV_ERR_IO, "cannot read x");
  try {
    throw_if_error(e, "plugin 'p'");
    FAIL();
  } catch (const PluginError& err) {
    EXPECT_EQ(err.code(), QKV_ERR_IO);
    EXPECT_STREQ(err.what(), "plugin 'p': cannot read x");
  }
  qkv_tensor_view v{};
  v.struct_size = sizeof v;
  qkv_error* t = h->tensor_get(h->ctx, "w", &v);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->code, QKV_ERR_UNSUPPORTED);
  error_free(t);
}

TEST_F(HostServicesTest, MapEntriesInFileOrderWithKeysThatHoldDots) {
  ASSERT_TRUE(QKV_HOST_HAS(h, config_map_entry));
  const char *key = nullptr, *text = nullptr;
  size_t key_size = 0, size = 0;
  EXPECT_EQ(h->config_map_entry(h->ctx, cfg, "specials", 1, &key, &key_size, &text, &size),
            QKV_VALUE_SCALAR);
  EXPECT_EQ(std::string(key, key_size), "a.b");
  EXPECT_EQ(std::string(text, size), "7");
  EXPECT_EQ(h->config_map_entry(h->ctx, cfg, "", 3, &key, &key_size, &text, &size), QKV_VALUE_LIST);
  EXPECT_EQ(std::string(key, key_size), "layouts");
  EXPECT_EQ(size, 2u);
  EXPECT_EQ(h->config_map_entry(h->ctx, cfg, "specials", 2, &key, &key_size, &text, &size),
            QKV_VALUE_MISSING);
  EXPECT_EQ(h->config_map_entry(h->ctx, cfg, "names", 0, &key, &key_size, &text, &size),
            QKV_VALUE_MISSING);
}

// The SDK's C++ Config layer over this host (what plugins call).
TEST_F(HostServicesTest, SdkConfigHelpers) {
  qkv::sdk::Config c(h, cfg);
  using Entry = std::pair<std::string, std::string>;
  EXPECT_EQ(c.string_map("specials"),
            (std::vector<Entry>{{"<|endoftext|>", "50256"}, {"a.b", "7"}}));
  EXPECT_TRUE(c.string_map("absent").empty());
  EXPECT_EQ(c.string_list("names"), (std::vector<std::string>{"x", "y z"}));
  EXPECT_EQ(c.integer_or<int>("layouts.1.size", 0), 8);
  EXPECT_TRUE(c.boolean_or("lowercase", false));
  EXPECT_EQ(c.path("ranks"), "/etc/qkv/vocab/x.tiktoken");
  try {
    c.string_map("names");
    FAIL() << "a list is not a mapping";
  } catch (const qkv::sdk::Error& e) {
    EXPECT_EQ(e.code(), QKV_ERR_CONFIG);
    EXPECT_THAT(e.what(), HasSubstr("p.yaml:10:8: 'names': expected a mapping"));
  }
  try {
    c.integer_or<int>("encoding", 0);
    FAIL() << "not an integer";
  } catch (const qkv::sdk::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("p.yaml:1:11: 'encoding': expected an integer"));
  }
}

TEST(HostServicesSnapshot, ConfigIsCopiedAtCreation) {
  YAML::Node doc = YAML::Load("a: {b: 1}\n");
  HostServices services{"test",
                        InstanceConfig{ConfigValue::from_yaml(doc["a"]), "/", "x.yaml", {}}};
  doc["a"]["b"] = 2;  // the caller edits its document afterwards
  doc["a"]["c"] = 3;
  const char* text = nullptr;
  size_t size = 0;
  const qkv_host* h = services.table();
  ASSERT_EQ(h->config_get(h->ctx, services.config(), "b", &text, &size), QKV_VALUE_SCALAR);
  EXPECT_EQ(std::string(text, size), "1");
  EXPECT_EQ(h->config_get(h->ctx, services.config(), "c", &text, &size), QKV_VALUE_MISSING);
  EXPECT_EQ(services.where(services.config(), "b"), "x.yaml:1:8");
}

TEST(HostServicesNoConfig, MissingConfigIsEmpty) {
  HostServices services{"test", InstanceConfig{}};
  const qkv_host* h = services.table();
  const char* text = nullptr;
  size_t size = 0;
  EXPECT_EQ(h->config_get(h->ctx, services.config(), "a", &text, &size), QKV_VALUE_MISSING);
  char buf[64];
  h->config_where(h->ctx, services.config(), "a", buf, sizeof buf);
  EXPECT_STREQ(buf, "<config>");
}

// The path policy's last gate (issue 10): a client's value reaches a plugin as a path only once
// pipeline/client_paths.cpp checked it (and replaced it by the resolved path).
TEST(HostServicesClientPaths, AClientValueIsAPathOnlyOnceChecked) {
  ConfigValue cfg = ConfigValue::from_yaml(YAML::Load("vocab: /secret/key\nmine: v.txt\n"));
  cfg.items[0].from_client = true;
  HostServices unchecked{"test", InstanceConfig{cfg, "/etc/qkv/pipelines", "p.yaml", {}}};
  const qkv_host* h = unchecked.table();
  const char* out = nullptr;
  qkv_error* e = h->config_path(h->ctx, unchecked.config(), "vocab", &out);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(h->error_code(h->ctx, e), QKV_ERR_CONFIG);
  EXPECT_THAT(h->error_message(h->ctx, e), HasSubstr("roots.models"));
  h->error_free(h->ctx, e);
  ASSERT_EQ(h->config_path(h->ctx, unchecked.config(), "mine", &out), nullptr);  // operator's
  EXPECT_STREQ(out, "/etc/qkv/pipelines/v.txt");

  cfg.items[0].path_checked = true;
  cfg.items[0].scalar = "/srv/models/vocab.txt";
  HostServices checked{"test", InstanceConfig{cfg, "/etc/qkv/pipelines", "p.yaml", {}}};
  h = checked.table();
  ASSERT_EQ(h->config_path(h->ctx, checked.config(), "vocab", &out), nullptr);
  EXPECT_STREQ(out, "/srv/models/vocab.txt");
}

}  // namespace
}  // namespace qkv::host
