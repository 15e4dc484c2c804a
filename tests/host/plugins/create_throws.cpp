// Test plugin: its constructor throws a plain std::runtime_error; plugin.hpp must turn it into
// an error object instead of letting it cross the C boundary.
#include <qkv/plugin.hpp>

namespace {

class Throws : public qkv::sdk::Attention {
 public:
  Throws(qkv::sdk::Host&, qkv::sdk::Config) {
    throw std::runtime_error("constructor exploded (test)");
  }
  void forward(const qkv_attention_args&) override {}
};

}  // namespace

QKV_PLUGIN(qkv::sdk::Attention, Throws, "test-create-throws", "1.0.0", "throws in its constructor")
