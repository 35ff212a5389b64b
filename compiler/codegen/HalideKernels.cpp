//===- HalideKernels.cpp - Kernels through Halide: build, compile, print -===//
//
// The public side of compiler/codegen: builds a descriptor's pipeline
// (KernelBuilder.h, one file per kind under kinds/), compiles it ahead of
// time to object files for a CPU or GPU target, and prints its statement,
// LLVM IR, assembly, PTX or OpenCL C.
//
//===----------------------------------------------------------------------===//
#include "codegen/HalideKernels.h"
#include "codegen/KernelBuilder.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <fcntl.h>
#include <unistd.h>

namespace tfc {
namespace {

using namespace Halide;
using kernels::KernelBuilder;

std::optional<Module> kernelModule(const KernelDesc &desc, const Target &target,
                                   std::string &error) {
  std::optional<BuiltKernel> k = buildKernel(desc, target, error);
  if (!k)
    return std::nullopt;
  std::optional<Module> m;
  if (!guardedHalide("kernel " + desc.symbol(), error, [&] {
        m = k->pipeline.compile_to_module(k->arguments, desc.symbol(), target);
      }))
    return std::nullopt;
  return m;
}

/// A scratch directory for Halide's file-only outputs, removed on scope exit.
class ScratchDir {
public:
  ScratchDir() {
    const char *tmp = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp && *tmp ? tmp : "/tmp") + "/tfc-hk-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()))
      path = buf.data();
  }
  ~ScratchDir() {
    for (const std::string &f : files)
      std::remove(f.c_str());
    if (!path.empty())
      rmdir(path.c_str());
  }
  std::string file(const std::string &name) {
    files.push_back(path + "/" + name);
    return files.back();
  }
  std::string path;

private:
  std::vector<std::string> files;
};

} // namespace

std::optional<Target> parseKernelTarget(const std::string &text,
                                        std::string &error) {
  Target target;
  if (text == "host" || text == "cpu") {
    target = get_host_target();
  } else if (Target::validate_target_string(text)) {
    target = Target(text);
  } else {
    error = "kernel target '" + text +
            "' is not a Halide target string (expected 'host', 'cpu' or e.g. "
            "'x86-64-linux-avx2', 'arm-64-linux')";
    return std::nullopt;
  }
  // GPU targets: OpenCL and CUDA share the GPU schedules; others have none.
  for (Target::Feature f : {Target::Metal, Target::D3D12Compute,
                            Target::OpenGLCompute, Target::HVX}) {
    if (target.has_feature(f)) {
      error = "kernel target '" + text +
              "' has a device API tfc has no schedules for (GPU targets: "
              "opencl, cuda)";
      return std::nullopt;
    }
  }
  if (target.has_feature(Target::OpenCL) && target.has_feature(Target::CUDA)) {
    error = "kernel target '" + text + "' names both opencl and cuda";
    return std::nullopt;
  }
  return target.with_feature(Target::NoRuntime);
}

std::optional<BuiltKernel>
buildKernel(const KernelDesc &desc, const Target &target, std::string &error) {
  KernelBuilder builder(desc, target);
  std::string bad = builder.check();
  if (!bad.empty()) {
    error = "kernel " + desc.symbol() + ": " + bad;
    return std::nullopt;
  }
  std::optional<BuiltKernel> k;
  if (!guardedHalide("kernel " + desc.symbol(), error, [&] { k = builder.build(); }))
    return std::nullopt;
  return k;
}

bool compileKernelObject(const KernelDesc &desc, const Target &target,
                         const std::string &objectPath, std::string &error) {
  return compileKernelsObject({desc}, target, objectPath, error);
}

bool compileKernelsObject(const std::vector<KernelDesc> &descs,
                          const Target &target, const std::string &objectPath,
                          std::string &error) {
  if (target.has_gpu_feature()) {
    error = objectPath + ": GPU kernels need an object each "
                         "(compileKernelObjects)";
    return false;
  }
  std::vector<std::string> objects;
  return compileKernelObjects(descs, target, objectPath, objects, error);
}

bool compileKernelObjects(const std::vector<KernelDesc> &descs,
                          const Target &target, const std::string &objectPath,
                          std::vector<std::string> &objects,
                          std::string &error) {
  if (descs.empty()) {
    error = objectPath + ": no kernels to compile";
    return false;
  }
  std::vector<Module> modules;
  std::set<std::string> seen;
  for (const KernelDesc &desc : descs) {
    if (!seen.insert(desc.symbol()).second)
      continue;
    std::optional<Module> m = kernelModule(desc, target, error);
    if (!m)
      return false;
    modules.push_back(*m);
  }
  if (target.has_gpu_feature()) {
    std::string stem = objectPath;
    if (stem.size() > 2 && stem.compare(stem.size() - 2, 2, ".o") == 0)
      stem.resize(stem.size() - 2);
    for (size_t i = 0; i < modules.size(); ++i) {
      std::string path = stem + "." + std::to_string(i) + ".o";
      if (!guardedHalide(path, error, [&] {
            modules[i].compile({{OutputFileType::object, path}});
          }))
        return false;
      objects.push_back(path);
    }
    return true;
  }
  objects.push_back(objectPath);
  return guardedHalide(objectPath, error, [&] {
    Module all =
        modules.size() == 1 ? modules[0] : link_modules("tfc_kernels", modules);
    all.compile({{OutputFileType::object, objectPath}});
  });
}

bool compileHalideRuntime(const Target &target, const std::string &objectPath,
                          std::string &error) {
  return guardedHalide(objectPath, error, [&] {
    compile_standalone_runtime(objectPath,
                               target.without_feature(Target::NoRuntime));
  });
}

namespace {

/// The kernel's loop nest (Pipeline::print_loop_nest, which writes to
/// Halide's debug stream, std::cerr: file descriptor 2 is pointed at a
/// scratch file meanwhile).
bool loopNest(const KernelDesc &desc, const Target &target, std::string &nest,
              std::string &error) {
  std::optional<BuiltKernel> k = buildKernel(desc, target, error);
  if (!k)
    return false;
  ScratchDir dir;
  std::string file = dir.path.empty() ? "" : dir.file("nest.txt");
  int fd = file.empty() ? -1 : open(file.c_str(), O_WRONLY | O_CREAT, 0600);
  if (fd < 0) {
    error = "kernel " + desc.symbol() + ": cannot create a scratch file";
    return false;
  }
  std::fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  close(fd);
  bool ok = guardedHalide("kernel " + desc.symbol(), error,
                          [&] { k->pipeline.print_loop_nest(); });
  std::cerr.flush();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::ifstream in(file);
  std::ostringstream ss;
  ss << in.rdbuf();
  nest = ss.str();
  return ok;
}

} // namespace

bool kernelText(const KernelDesc &desc, const Target &target,
                const std::string &what, std::string &text,
                std::string &error) {
  OutputFileType type;
  // The device code (PTX, OpenCL C) is a NUL-terminated string inside the
  // kernel's object file, starting with this marker.
  const char *marker = nullptr;
  if (what == "stmt")
    type = OutputFileType::stmt;
  else if (what == "llvm")
    type = OutputFileType::llvm_assembly;
  else if (what == "asm")
    type = OutputFileType::assembly;
  else if (what == "ptx" || what == "opencl") {
    type = OutputFileType::object;
    bool cuda = what == "ptx";
    if (!target.has_feature(cuda ? Target::CUDA : Target::OpenCL)) {
      error = std::string("--emit=") + what + " needs --target " +
              (cuda ? "cuda" : "opencl");
      return false;
    }
    marker = cuda ? "\n.version " : "/*OpenCL C ";
  } else {
    error = "kernel text kind '" + what +
            "' is unknown (expected stmt, llvm, asm, ptx or opencl)";
    return false;
  }
  std::optional<Module> m = kernelModule(desc, target, error);
  if (!m)
    return false;
  ScratchDir dir;
  if (dir.path.empty()) {
    error = "kernel " + desc.symbol() + ": cannot create a scratch directory";
    return false;
  }
  std::string file = dir.file(desc.symbol() + "." + what);
  if (!guardedHalide("kernel " + desc.symbol(), error, [&] {
        m->compile({{type, file}});
      }))
    return false;
  std::ifstream in(file);
  if (!in) {
    error = "kernel " + desc.symbol() + ": Halide wrote no " + what +
            " output to " + file;
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  text = ss.str();
  if (what == "stmt" && target.has_gpu_feature()) {
    // A GPU target's statement is the host side (kernel launches) with the
    // device code as a buffer: the loop nest, with its GPU block and thread
    // loops, comes first. Halide prints it to stdout only.
    std::string nest;
    if (!loopNest(desc, target, nest, error))
      return false;
    text.erase(std::remove(text.begin(), text.end(), '\0'), text.end());
    text = "// loop nest\n" + nest + "\n// host statement\n" + text;
  }
  if (marker) {
    size_t at = text.find(marker);
    if (at == std::string::npos) {
      error = "kernel " + desc.symbol() + ": no " + what +
              " code in its object file";
      return false;
    }
    size_t begin = text.rfind('\0', at), end = text.find('\0', at);
    begin = begin == std::string::npos ? 0 : begin + 1;
    text = text.substr(begin, end == std::string::npos ? std::string::npos
                                                       : end - begin);
  }
  return true;
}

} // namespace tfc
