# Issue 11 item 1: nothing a client sends can freeze or exhaust the daemon (limits.*).
# Included from tests/reliability/CMakeLists.txt: relative sources are in this folder.
qkv_add_test(NAME reliability_limits_tests
  SOURCES limits_pool_test.cpp limits_vocab_test.cpp limits_set_test.cpp limits_fairness_test.cpp
          limits_input_test.cpp limits_reply_buffer_test.cpp limits_cache_test.cpp
          ${PROJECT_SOURCE_DIR}/tests/daemon/harness.cpp
  LIBS qkv_ctl_client
  LABELS daemon TIMEOUT 300)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(reliability_limits_tests PRIVATE -Wno-restrict)  # GCC PR105329
endif()
target_include_directories(reliability_limits_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests/daemon)
target_compile_definitions(reliability_limits_tests PRIVATE
  QKV_TEST_PLUGIN_DIR="${PROJECT_BINARY_DIR}/tests/daemon/plugins")
add_dependencies(reliability_limits_tests qkvd qkvctl qkv_test-bytes)
