# qkv_sdk_add_plugin(<name> SOURCES <files>... [LIBS <targets>...] [NO_INSTALL])
#
# Builds the loadable plugin module qkv_<name>.so from <files>, linked against qkv::sdk:
#   - no "lib" prefix, so the file is named after the plugin;
#   - hidden visibility, so only the entry symbol (QKV_PLUGIN's qkv_plugin_entry) is exported;
#   - -Wl,--no-undefined, so a missing symbol fails the build instead of the daemon's load;
#   - installed into ${qkv_sdk_PLUGIN_INSTALL_DIR} (lib/qkv/plugins) unless NO_INSTALL.
# The target is named qkv_<name>.
function(qkv_sdk_add_plugin name)
  cmake_parse_arguments(P "NO_INSTALL" "" "SOURCES;LIBS" ${ARGN})
  if(NOT P_SOURCES)
    message(FATAL_ERROR "qkv_sdk_add_plugin(${name}): SOURCES is required")
  endif()
  set(target qkv_${name})
  add_library(${target} MODULE ${P_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX "" OUTPUT_NAME "qkv_${name}"
    C_VISIBILITY_PRESET hidden CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  target_link_libraries(${target} PRIVATE qkv::sdk ${P_LIBS})
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    target_link_options(${target} PRIVATE -Wl,--no-undefined)
  endif()
  if(NOT P_NO_INSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION ${qkv_sdk_PLUGIN_INSTALL_DIR})
  endif()
endfunction()
