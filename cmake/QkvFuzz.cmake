# qkv_add_fuzz_target(NAME n SOURCES ... [LIBS ...] [MAX_LEN bytes] [ENV k=v ...]): one libFuzzer
# target (clang, QKV_FUZZ=ON) and its ctest `fuzz.<n>` (label fuzz), run for QKV_FUZZ_SECONDS
# from the committed seeds in the caller's corpus/ folder. New inputs go to a scratch corpus in
# the build tree, so the committed seeds stay small and read only.
set(QKV_FUZZ_SECONDS 30 CACHE STRING "Seconds each fuzz ctest runs (make test: 30, make fuzz: 60)")

function(qkv_add_fuzz_target)
  cmake_parse_arguments(F "" "NAME;MAX_LEN" "SOURCES;LIBS;ENV" ${ARGN})
  if(NOT F_MAX_LEN)
    set(F_MAX_LEN 4096)
  endif()
  set(target fuzz_${F_NAME})
  add_executable(${target} ${F_SOURCES})
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/daemon)
  target_link_libraries(${target} PRIVATE ${F_LIBS})
  target_compile_options(${target} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(${target} PRIVATE -fsanitize=fuzzer,address,undefined)
  qkv_target_defaults(${target})
  set(work ${CMAKE_CURRENT_BINARY_DIR}/corpus)
  math(EXPR timeout "${QKV_FUZZ_SECONDS} * 3 + 60")
  add_test(NAME fuzz.${F_NAME}
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1 ${F_ENV}
            sh -c "mkdir -p '${work}' && exec \"$0\" -max_total_time=${QKV_FUZZ_SECONDS} -max_len=${F_MAX_LEN} -timeout=5 -print_final_stats=1 -artifact_prefix='${CMAKE_CURRENT_BINARY_DIR}/' '${work}' '${CMAKE_CURRENT_SOURCE_DIR}/corpus'"
            $<TARGET_FILE:${target}>)
  set_tests_properties(fuzz.${F_NAME} PROPERTIES LABELS fuzz TIMEOUT ${timeout})
  set_property(GLOBAL APPEND PROPERTY QKV_TESTS_fuzz ${target})
endfunction()
