# `cmake --install BUILD --prefix P` lays out a relocatable tfc package
# (docs/embedding.md):
#   P/bin/tfc, P/bin/tfm-opt            the compiler and the IR tool
#   P/lib/tfc/libtfcrt.a, libtfc_main.a the runtime `tfc compile` links
#   P/include/tfc/tfc_runtime.h         the C API
#   P/include/tfc/tfc_plan.h            private: the generated plan's types
#   P/lib/cmake/tfc/                    find_package(tfc) + tfc_add_model
#   P/lib/pkgconfig/tfc.pc              pkg-config --cflags --libs tfc
# Nothing in it names P: tfc finds lib/tfc and include/tfc next to its own
# executable (../lib/tfc), the CMake package and tfc.pc compute the prefix
# from where they are. The directories are fixed (not GNUInstallDirs'
# lib/<multiarch>), as tfc looks for exactly these.
include(CMakePackageConfigHelpers)

set(TFC_INSTALL_BINDIR bin)
set(TFC_INSTALL_RUNTIMEDIR lib/tfc)
set(TFC_INSTALL_INCLUDEDIR include/tfc)
set(TFC_INSTALL_CMAKEDIR lib/cmake/tfc)
set(TFC_INSTALL_PKGCONFIGDIR lib/pkgconfig)

if(TFC_WITH_MLIR)
  # The tools keep the run path of the system libraries they link (MLIR in
  # /usr/lib/llvm-22/lib), never the build tree's.
  set_target_properties(tfc tfm-opt PROPERTIES
                        INSTALL_RPATH_USE_LINK_PATH ON)
  install(TARGETS tfc tfm-opt RUNTIME DESTINATION ${TFC_INSTALL_BINDIR})
endif()
if(TARGET tfcrt)
  install(FILES ${PROJECT_BINARY_DIR}/runtime/libtfcrt.a
          DESTINATION ${TFC_INSTALL_RUNTIMEDIR})
endif()
install(FILES $<TARGET_FILE:tfc_main> DESTINATION ${TFC_INSTALL_RUNTIMEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/runtime/tfc_runtime.h
              ${PROJECT_SOURCE_DIR}/runtime/tfc_plan.h
        DESTINATION ${TFC_INSTALL_INCLUDEDIR})

configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/tfcConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/tfcConfig.cmake
  INSTALL_DESTINATION ${TFC_INSTALL_CMAKEDIR}
  PATH_VARS TFC_INSTALL_BINDIR TFC_INSTALL_RUNTIMEDIR TFC_INSTALL_INCLUDEDIR)
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/cmake/tfcConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cmake/tfcConfig.cmake
              ${PROJECT_BINARY_DIR}/cmake/tfcConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/TfcAddModel.cmake
        DESTINATION ${TFC_INSTALL_CMAKEDIR})

# pkg-config: the prefix is computed from the .pc file's own directory.
string(REPLACE ";" " " TFC_PC_SANITIZE "${TFC_SANITIZE_FLAGS}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/tfc.pc.in
               ${PROJECT_BINARY_DIR}/cmake/tfc.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/cmake/tfc.pc
        DESTINATION ${TFC_INSTALL_PKGCONFIGDIR})
