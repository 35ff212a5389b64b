//===- CompileModel.h - Kernels, plan and link: native code ------*- C++
//-*-===//
//
// The last stages of `tfc compile`: every distinct kernel of the plan goes
// through Halide to one object file, the Halide runtime to another, the
// plan table to a C file compiled with the system C compiler; then either
// an executable (the runtime's main), or a static or shared library with its
// header.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_DRIVER_COMPILEMODEL_H
#define TFC_DRIVER_COMPILEMODEL_H

#include "plan/MemoryPlan.h"
#include "spec/ModelSpec.h"

#include <string>

namespace tfc {

struct CompileRequest {
  std::string target = "host"; // "host" or a Halide target string
  std::string output;          // executable path, or a directory (library)
  bool library = false;         // DIR/libNAME.a + NAME.h
  bool shared = false;          // DIR/libNAME.so + NAME.h (implies library)
  bool keepTemps = false; // leave the intermediate files for inspection
};

/// Compiles `plan` to native code. Progress goes to stderr; the result is
/// written atomically (a temporary name, then renamed into place).
bool compileModel(const Plan &plan, const ModelSpec &spec,
                  const CompileRequest &request, std::string &error);

/// For --emit=halide|llvm|asm: the text of every distinct kernel.
bool kernelTexts(const Plan &plan, const std::string &target,
                 const std::string &what, std::string &text,
                 std::string &error);

/// The Halide target string that `target` ("host", "cpu", "cpu:<string>",
/// "opencl[:<host string>]", "cuda[:<host string>]" or a bare Halide target
/// string) means, or an error.
bool resolveTarget(const std::string &target, std::string &resolved,
                   std::string &error);

} // namespace tfc

#endif // TFC_DRIVER_COMPILEMODEL_H
