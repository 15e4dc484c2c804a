// Test plugin: a hand-written C++ entry point that lets an exception escape.
#include <qkv/abi.h>

#include <stdexcept>

extern "C" QKV_EXPORT const qkv_plugin_descriptor* qkv_plugin_entry(void) {
  throw std::runtime_error("entry exploded (test)");
}
