/* Test plugin: references a function no library defines. Linked without --no-undefined, so
 * only the host's RTLD_NOW load can catch it. */
#include <qkv/abi.h>

extern const qkv_plugin_descriptor* qkv_test_function_nobody_defines(void);

QKV_EXPORT const qkv_plugin_descriptor* qkv_plugin_entry(void) {
  return qkv_test_function_nobody_defines();
}
