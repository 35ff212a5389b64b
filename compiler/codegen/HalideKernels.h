//===- HalideKernels.h - Halide pipelines of the fused kernels --*- C++ -*-===//
//
// Each KernelDesc (see KernelDesc.h for the kinds, their arguments and their
// math) becomes one Halide 14 pipeline: the algorithm first, then a CPU
// schedule for the target (register-tiled matrix products, vectorised over
// the contiguous feature axis, parallel over column tiles). The pipelines are
// compiled ahead of time to object files without the Halide runtime, which
// is compiled once per target by compileHalideRuntime.
//
// The same BuiltKernel serves the AOT path (compile_to_module) and JIT tests
// (bind `inputs`, set `pos`, realize `outputs`), so both run the same
// pipeline and schedule.
//
// Halide reports errors by throwing; every function here catches and
// returns the message in `error`.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_CODEGEN_HALIDEKERNELS_H
#define TFC_CODEGEN_HALIDEKERNELS_H

#include "codegen/KernelDesc.h"

#include <Halide.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tfc {

/// Parses "host" / "cpu" (Halide::get_host_target()) or a Halide target
/// string ("x86-64-linux-avx2", "arm-64-linux", ...), adding no_runtime.
/// Returns nullopt and fills `error` on a bad string.
std::optional<Halide::Target> parseKernelTarget(const std::string &text,
                                                std::string &error);

/// The pipeline of one kernel. `arguments` are its inputs in the order of
/// KernelDesc.h (the outputs follow them in the compiled function, in the
/// order of `outputs`). `inputs` are the buffer parameters among them, in
/// the same order, so a JIT caller can bind buffers with ImageParam::set.
/// `pos` is the scalar position offset of the kinds that depend on
/// positions (Embed and QKV, which always take it, even when unused); it is
/// their last input argument, after every entry of `inputs`. A JIT caller
/// sets it with Param::set; in NAME_argv it is a pointer to an int32.
struct BuiltKernel {
  Halide::Pipeline pipeline;
  std::vector<Halide::Argument> arguments;
  std::vector<Halide::ImageParam> inputs;
  std::optional<Halide::Param<int32_t>> pos;
  std::vector<Halide::Func> outputs;
};

/// Builds the algorithm and the schedule of `desc` for `target`.
std::optional<BuiltKernel> buildKernel(const KernelDesc &desc,
                                       const Halide::Target &target,
                                       std::string &error);

/// Writes an object file defining `desc.symbol()` and
/// `desc.symbol() + "_argv"` (int NAME_argv(void **args)).
bool compileKernelObject(const KernelDesc &desc, const Halide::Target &target,
                         const std::string &objectPath, std::string &error);

/// Writes several kernels into one object file (Halide::link_modules; CPU
/// targets only). Descriptors with equal symbols are compiled once.
bool compileKernelsObject(const std::vector<KernelDesc> &descs,
                          const Halide::Target &target,
                          const std::string &objectPath, std::string &error);

/// Writes the kernels for any target: CPU targets into `objectPath` (as
/// compileKernelsObject), GPU targets into one object per distinct kernel
/// (objectPath with ".N.o" for ".o"), since Halide 14's link_modules keeps
/// the device code of only one module. `objects` gets the files written.
bool compileKernelObjects(const std::vector<KernelDesc> &descs,
                          const Halide::Target &target,
                          const std::string &objectPath,
                          std::vector<std::string> &objects,
                          std::string &error);

/// Writes the Halide runtime for `target` (compile_standalone_runtime); link
/// it once with all kernels compiled for the same target.
bool compileHalideRuntime(const Halide::Target &target,
                          const std::string &objectPath, std::string &error);

/// The lowered statement ("stmt"), the LLVM IR ("llvm") or the assembly
/// ("asm") of one kernel, for tfc --emit=halide|llvm|asm.
bool kernelText(const KernelDesc &desc, const Halide::Target &target,
                const std::string &what, std::string &text, std::string &error);

/// Runs `body`, turning Halide's exceptions (Halide::Error and any
/// std::exception) into `error`, prefixed with `context`, on one line.
template <typename F>
bool guardedHalide(const std::string &context, std::string &error, F &&body) {
  try {
    body();
    return true;
  } catch (const Halide::Error &e) {
    error = context + ": Halide error: " + e.what();
  } catch (const std::exception &e) {
    error = context + ": " + e.what();
  }
  // Halide messages end with a newline; the project's are one line.
  while (!error.empty() && (error.back() == '\n' || error.back() == ' '))
    error.pop_back();
  for (char &ch : error)
    if (ch == '\n')
      ch = ' ';
  return false;
}

} // namespace tfc

#endif // TFC_CODEGEN_HALIDEKERNELS_H
