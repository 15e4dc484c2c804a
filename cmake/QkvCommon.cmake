# Shared build settings and helpers for qkv targets.

set(QKV_WARNINGS -Wall -Wextra -Werror)

if(QKV_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(QKV_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT QKV_SANITIZE STREQUAL "")
  message(FATAL_ERROR "QKV_SANITIZE must be empty, address or thread (got '${QKV_SANITIZE}')")
endif()

# Project code: warnings as errors. Third-party headers come in as SYSTEM includes.
function(qkv_target_defaults target)
  target_compile_options(${target} PRIVATE ${QKV_WARNINGS})
endfunction()

# qkv_add_plugin(NAME name SOURCES ... [LIBS ...])
# Builds a loadable plugin `qkv_<name>.so` into <build>/plugins, exporting only the entry.
function(qkv_add_plugin)
  cmake_parse_arguments(P "" "NAME" "SOURCES;LIBS" ${ARGN})
  set(target qkv_${P_NAME})
  add_library(${target} MODULE ${P_SOURCES})
  set_target_properties(${target} PROPERTIES PREFIX "" OUTPUT_NAME "qkv_${P_NAME}"
    LIBRARY_OUTPUT_DIRECTORY ${QKV_PLUGIN_OUTPUT_DIR}
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(${target} PRIVATE qkv::sdk ${P_LIBS})
  # rtld_now in the host catches unresolved symbols at load; catch them at link time too.
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
  qkv_target_defaults(${target})
  install(TARGETS ${target} LIBRARY DESTINATION ${QKV_PLUGIN_INSTALL_DIR})
  set_property(GLOBAL APPEND PROPERTY QKV_PLUGIN_TARGETS ${target})
endfunction()

# qkv_add_test(NAME name SOURCES ... [LIBS ...] [LABELS ...] [PLUGINS] [TIMEOUT s])
# A GoogleTest executable; every TEST() becomes one ctest test at test time. Labels:
#   unit        fast, also run under ASan+UBSan
#   parity      against goldens / PyTorch fixtures (optimized build)
#   integration real qkvd processes over the real socket
#   daemon      also run under TSan
# PLUGINS makes the test depend on every plugin and passes QKV_PLUGIN_DIR in its environment.
function(qkv_add_test)
  cmake_parse_arguments(T "PLUGINS" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE GTest::gtest GTest::gmock GTest::gtest_main ${T_LIBS})
  target_compile_definitions(${T_NAME} PRIVATE
    QKV_SOURCE_DIR="${PROJECT_SOURCE_DIR}" QKV_BINARY_DIR="${PROJECT_BINARY_DIR}"
    QKV_PLUGIN_DIR="${QKV_PLUGIN_OUTPUT_DIR}")
  qkv_target_defaults(${T_NAME})
  set(env "QKV_SOURCE_DIR=${PROJECT_SOURCE_DIR};QKV_PLUGIN_DIR=${QKV_PLUGIN_OUTPUT_DIR}")
  gtest_discover_tests(${T_NAME} DISCOVERY_MODE PRE_TEST PROPERTIES TIMEOUT ${T_TIMEOUT})
  # List values (two labels, two variables) do not survive gtest_discover_tests' flat
  # PROPERTIES list: set them on the discovered tests (${T_NAME}_TESTS) at ctest time.
  set(props_file ${CMAKE_CURRENT_BINARY_DIR}/${T_NAME}_properties.cmake)
  file(WRITE ${props_file} "if(${T_NAME}_TESTS)\n  set_tests_properties(\${${T_NAME}_TESTS} PROPERTIES LABELS \"${T_LABELS}\" ENVIRONMENT \"${env}\")\nendif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${props_file})
  foreach(label IN LISTS T_LABELS)
    set_property(GLOBAL APPEND PROPERTY QKV_TESTS_${label} ${T_NAME})
  endforeach()
  if(T_PLUGINS)
    set_property(GLOBAL APPEND PROPERTY QKV_TESTS_NEEDING_PLUGINS ${T_NAME})
  endif()
endfunction()

# Called once at the end of the top-level tree: one build target per label
# (tests-unit, tests-daemon, ...), so a sanitizer build compiles only what it runs.
function(qkv_finish_test_targets)
  get_property(plugins GLOBAL PROPERTY QKV_PLUGIN_TARGETS)
  add_custom_target(qkv_plugins)
  if(plugins)
    add_dependencies(qkv_plugins ${plugins})
  endif()
  get_property(needing GLOBAL PROPERTY QKV_TESTS_NEEDING_PLUGINS)
  foreach(t IN LISTS needing)
    add_dependencies(${t} qkv_plugins)
  endforeach()
  foreach(label unit parity integration daemon fuzz)
    get_property(targets GLOBAL PROPERTY QKV_TESTS_${label})
    add_custom_target(tests-${label})
    if(targets)
      add_dependencies(tests-${label} ${targets})
    endif()
  endforeach()
endfunction()
