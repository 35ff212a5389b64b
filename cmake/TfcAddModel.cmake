# tfc_add_model: compile a model spec with tfc at build time (modelled on
# Halide's add_halide_library).
#
#   tfc_add_model(<target> SPEC <spec.yaml>
#                 [TARGET cpu|cpu:<halide-target>|opencl|cuda]
#                 [QUANTIZE int8|f16|bf16] [TUNING <file>] [SHARED]
#                 [NAME <c-name>])
#
# Runs `tfc compile <spec> --library` (or --shared) into
# ${CMAKE_CURRENT_BINARY_DIR}/<target>/, giving lib<name>.a (lib<name>.so)
# and <name>.h, where <name> is the spec's `name:` with every character
# other than a letter or digit made '_' (NAME overrides it). The command
# reruns when the spec, the tuning file or tfc itself (or its runtime)
# changes. <target> is an IMPORTED library carrying the header's directory
# (with tfc_runtime.h) and what the library needs at link time:
#   target_link_libraries(app PRIVATE <target>)
# and app calls tfc_model_<name>() (docs/embedding.md).
# Defines <target>_NAME (the C name) and <target>_LIBRARY (the file) in the
# caller's scope.
function(tfc_add_model target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "SHARED"
                        "SPEC;TARGET;QUANTIZE;TUNING;NAME" "")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "tfc_add_model(${target}): unknown arguments "
                        "${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_SPEC)
    message(FATAL_ERROR "tfc_add_model(${target}): SPEC <yaml> is required")
  endif()
  get_filename_component(spec "${ARG_SPEC}" ABSOLUTE
                         BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT EXISTS "${spec}")
    message(FATAL_ERROR "tfc_add_model(${target}): ${spec} not found")
  endif()
  # The spec's name decides the file names: read it now, and configure
  # again when the spec changes.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${spec}")
  set(name "${ARG_NAME}")
  if(NOT name)
    file(STRINGS "${spec}" lines REGEX "^name:")
    list(GET lines 0 line)
    string(REGEX REPLACE "^name:[ \t]*['\"]?([^'\"#]*[^'\"# \t])['\"]?.*$"
                         "\\1" model "${line}")
    if(NOT model OR model STREQUAL line)
      message(FATAL_ERROR "tfc_add_model(${target}): no 'name:' in ${spec}; "
                          "give NAME <c-name>")
    endif()
    string(MAKE_C_IDENTIFIER "${model}" name)
  endif()

  set(dir "${CMAKE_CURRENT_BINARY_DIR}/${target}")
  set(header "${dir}/${name}.h")
  set(args compile "${spec}" -o "${dir}")
  if(ARG_SHARED)
    set(lib "${dir}/lib${name}.so")
    list(APPEND args --shared)
  else()
    set(lib "${dir}/lib${name}.a")
    list(APPEND args --library)
  endif()
  if(ARG_TARGET)
    list(APPEND args --target "${ARG_TARGET}")
  endif()
  if(ARG_QUANTIZE)
    list(APPEND args --quantize "${ARG_QUANTIZE}")
  endif()
  set(depends "${spec}" "${TFC_EXECUTABLE}"
              "${TFC_RUNTIME_LIB_DIR}/libtfcrt.a" "${TFC_INCLUDE_DIR}/tfc_plan.h")
  if(ARG_TUNING)
    get_filename_component(tuning "${ARG_TUNING}" ABSOLUTE
                           BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND args --tuning "${tuning}")
    list(APPEND depends "${tuning}")
  endif()

  add_custom_command(
    OUTPUT "${lib}" "${header}"
    COMMAND "${TFC_EXECUTABLE}" ${args}
    DEPENDS ${depends}
    COMMENT "tfc: compiling ${ARG_SPEC} to ${lib}"
    VERBATIM)
  add_custom_target("${target}.update" DEPENDS "${lib}" "${header}")

  if(ARG_SHARED)
    add_library("${target}" SHARED IMPORTED GLOBAL)
    set_target_properties("${target}" PROPERTIES
                          IMPORTED_SONAME "lib${name}.so")
    set(deps "")
  else()
    add_library("${target}" STATIC IMPORTED GLOBAL)
    # The runtime inside is C++; the Halide runtime uses threads and dlopen
    # (a GPU target opens libOpenCL / libcuda itself at run time: nothing
    # more to link).
    set(deps stdc++ m pthread dl)
  endif()
  # The directory must exist when the target is used (before the build).
  file(MAKE_DIRECTORY "${dir}")
  set_target_properties("${target}" PROPERTIES
    IMPORTED_LOCATION "${lib}"
    INTERFACE_INCLUDE_DIRECTORIES "${dir}"
    INTERFACE_LINK_LIBRARIES "${deps}")
  if(TFC_SANITIZE_FLAGS)
    set_target_properties("${target}" PROPERTIES
      INTERFACE_LINK_OPTIONS "${TFC_SANITIZE_FLAGS}")
  endif()
  add_dependencies("${target}" "${target}.update")
  set(${target}_NAME "${name}" PARENT_SCOPE)
  set(${target}_LIBRARY "${lib}" PARENT_SCOPE)
endfunction()
