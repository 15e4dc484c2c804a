# ctest driver: configure sdk/ on its own (it must not need the daemon), install the SDK
# component of this build into a temporary prefix, build the out-of-tree example against that
# prefix alone, and load it with the host.
# Variables: BUILD_DIR SOURCE_DIR WORK_DIR CHECK CXX GENERATOR MAKE_PROGRAM
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
  message(STATUS "ok: ${ARGV}")
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(sdk_headers include/qkv/abi.h include/qkv/plugin.hpp include/qkv/attention_check.hpp
    include/qkv/positions.hpp)
# sdk/ alone: configures and installs without the rest of the tree.
set(alone ${WORK_DIR}/sdk-alone)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/sdk -B ${alone}/build -G ${GENERATOR}
    -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM} -DCMAKE_CXX_COMPILER=${CXX})
run(${CMAKE_COMMAND} --install ${alone}/build --prefix ${alone}/prefix)
foreach(f ${sdk_headers})
  if(NOT EXISTS ${alone}/prefix/${f})
    message(FATAL_ERROR "sdk/ configured on its own does not install ${f}")
  endif()
endforeach()
file(GLOB_RECURSE alone_package ${alone}/prefix/*/qkv_sdkConfig.cmake)
if(NOT alone_package)
  message(FATAL_ERROR "sdk/ configured on its own does not install its CMake package")
endif()

set(prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --component sdk --prefix ${prefix})

# qkv-conformance lives in tools/ (it needs the host) but still ships with the SDK component.
foreach(f ${sdk_headers} bin/qkv-conformance)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "the SDK install lacks ${f}")
  endif()
endforeach()

# A copy of the example, so nothing next to the qkv sources is on its include path.
file(COPY ${SOURCE_DIR}/sdk/examples/tokenizer-words DESTINATION ${WORK_DIR})
set(example ${WORK_DIR}/tokenizer-words)
run(${CMAKE_COMMAND} -S ${example} -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM} -DCMAKE_CXX_COMPILER=${CXX}
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
file(STRINGS ${WORK_DIR}/build/CMakeCache.txt sdk_dir REGEX "^qkv_sdk_DIR:")
if(NOT sdk_dir MATCHES "${prefix}")
  message(FATAL_ERROR "the example found the SDK outside the temporary prefix: ${sdk_dir}")
endif()
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${CHECK} ${WORK_DIR}/build/qkv_example-words.so ${example})
message(STATUS "${last_output}")
file(REMOVE_RECURSE ${WORK_DIR})
