/* Test plugin: a shared library without the qkv_plugin_entry symbol. */
__attribute__((visibility("default"))) int qkv_plugin_entry_misspelled(void) { return 1; }
