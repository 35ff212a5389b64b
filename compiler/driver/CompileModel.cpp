//===- CompileModel.cpp - Kernels, plan and link: native code ------------===//
#include "driver/CompileModel.h"

#include "codegen/HalideKernels.h"
#include "driver/AtomicFile.h"
#include "plan/PlanSource.h"
#include "spec/SpecParser.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef TFC_RUNTIME_LIB_DIR
#error "TFC_RUNTIME_LIB_DIR must name the directory of libtfcrt.a"
#endif
#ifndef TFC_RUNTIME_INCLUDE_DIR
#error "TFC_RUNTIME_INCLUDE_DIR must name the directory of tfc_plan.h"
#endif

namespace tfc {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string envOr(const char *name, const char *fallback) {
  const char *v = std::getenv(name);
  return v && *v ? v : fallback;
}

/// Runs argv[0] with its arguments (no shell), its stdin from `input` when
/// given; its output passes through.
bool runTool(const std::vector<std::string> &argv, std::string &error,
             const std::string &input = "") {
  std::vector<char *> args;
  for (const std::string &a : argv)
    args.push_back(const_cast<char *>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    error = "cannot start " + argv[0] + ": " + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    if (!input.empty()) {
      int fd = open(input.c_str(), O_RDONLY);
      if (fd < 0 || dup2(fd, 0) < 0) {
        std::fprintf(stderr, "tfc: cannot read %s: %s\n", input.c_str(),
                     std::strerror(errno));
        _exit(127);
      }
    }
    execvp(args[0], args.data());
    std::fprintf(stderr, "tfc: cannot run %s: %s\n", args[0],
                 std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  pid_t waited;
  while ((waited = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (waited < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string line;
    for (const std::string &a : argv)
      line += (line.empty() ? "" : " ") + a;
    error = "command failed: " + line;
    return false;
  }
  return true;
}

/// For the files of the temporary directory only: outputs go through
/// AtomicFile.
bool writeFile(const std::string &path, const std::string &text,
               std::string &error) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) {
    error = path + ": cannot write";
    return false;
  }
  return true;
}

bool fileExists(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string runtimeLibDir() {
  return envOr("TFC_RUNTIME_LIB_DIR", TFC_RUNTIME_LIB_DIR);
}
std::string runtimeIncludeDir() {
  return envOr("TFC_RUNTIME_INCLUDE_DIR", TFC_RUNTIME_INCLUDE_DIR);
}

/// A temporary directory ($TMPDIR or /tmp) and the files tfc puts in it,
/// removed when done, on error, or on SIGINT/SIGTERM/SIGHUP.
struct TempDir {
  static constexpr const char *kFiles[] = {"kernels.o", "halide_runtime.o",
                                           "plan.c", "plan.o", "lib.mri"};
  std::string path;
  bool keep = false;
  std::vector<int> slots;

  bool create(bool keepFiles, std::string &error) {
    keep = keepFiles;
    std::string pattern = envOr("TMPDIR", "/tmp") + "/tfc-XXXXXX";
    if (!mkdtemp(pattern.data())) {
      error = "cannot create a temporary directory " + pattern + ": " +
              std::strerror(errno);
      return false;
    }
    path = pattern;
    if (!keep) {
      for (const char *f : kFiles)
        slots.push_back(registerCleanupPath(path + "/" + f));
      slots.push_back(registerCleanupPath(path)); // after its files
    }
    return true;
  }
  /// A file written into the directory besides kFiles (a GPU target's
  /// kernel objects), removed with them.
  void adopt(const std::string &file) {
    extra.push_back(file);
    if (!keep)
      slots.insert(slots.begin(), registerCleanupPath(file));
  }
  ~TempDir() {
    for (int slot : slots)
      unregisterCleanupPath(slot);
    if (path.empty() || keep)
      return;
    for (const std::string &f : extra)
      std::remove(f.c_str());
    for (const char *f : kFiles)
      std::remove((path + "/" + f).c_str());
    rmdir(path.c_str());
  }
  std::vector<std::string> extra;
};

/// What a program linked against this build's runtime needs (the runtime
/// may be built with a sanitizer: see TFC_SANITIZE in CMakeLists.txt).
std::vector<std::string> sanitizerFlags() {
#ifdef TFC_SANITIZE_FLAGS
  return {TFC_SANITIZE_FLAGS};
#else
  return {};
#endif
}

} // namespace

bool resolveTarget(const std::string &target, std::string &resolved,
                   std::string &error) {
  // cpu[:T], opencl[:T] and cuda[:T]: T is the host's Halide target string
  // (the host code's; default this machine's), to which the GPU targets add
  // their device API.
  std::string text = target, device;
  for (const char *kind : {"cpu", "opencl", "cuda"}) {
    std::string k = kind;
    if (text == k || text.rfind(k + ":", 0) == 0) {
      device = k;
      text = text == k ? "host" : text.substr(k.size() + 1);
      break;
    }
  }
  std::optional<Halide::Target> t = parseKernelTarget(text, error);
  if (!t) {
    error = "--target: " + error;
    return false;
  }
  if (device == "cpu" && t->has_gpu_feature()) {
    error = "--target " + target +
            ": names a GPU API; use --target opencl or cuda";
    return false;
  }
  if (!device.empty() && device != "cpu" && t->has_gpu_feature()) {
    error = "--target " + target + ": give the host part only after '" +
            device + ":' (the device API is added)";
    return false;
  }
  if (device == "opencl")
    t = t->with_feature(Halide::Target::OpenCL)
            .with_feature(Halide::Target::CLDoubles); // RoPE and sinusoid angles
  if (device == "cuda") {
    // Halide 14's highest CUDA capability: its PTX runs on newer GPUs
    // through the driver's JIT compiler.
    t = t->with_feature(Halide::Target::CUDA)
            .with_feature(Halide::Target::CUDACapability86);
  }
  resolved = t->to_string();
  return true;
}

bool kernelTexts(const Plan &plan, const std::string &target,
                 const std::string &what, std::string &text,
                 std::string &error) {
  std::string resolved;
  if (!resolveTarget(target, resolved, error))
    return false;
  std::optional<Halide::Target> t = parseKernelTarget(resolved, error);
  if (!t)
    return false;
  for (const KernelDesc &k : plan.kernels) {
    std::string one;
    if (!kernelText(k, *t, what, one, error))
      return false;
    text += (what == "llvm" ? "; " : "// ") + std::string("kernel ") +
            k.symbol() + " (" + toString(k.kind) + ")\n" + one + "\n";
  }
  return true;
}

bool compileModel(const Plan &plan, const ModelSpec &spec,
                  const CompileRequest &request, std::string &error) {
  Clock::time_point start = Clock::now();
  std::string resolved;
  if (!resolveTarget(request.target, resolved, error))
    return false;
  std::optional<Halide::Target> target = parseKernelTarget(resolved, error);
  if (!target)
    return false;
  Halide::Target host = Halide::get_host_target();
  bool native = target->arch == host.arch && target->bits == host.bits &&
                target->os == host.os;
  if (!native && !request.library) {
    error = "--target " + resolved +
            " cannot run here: compile it with "
            "--library (objects and plan) and link on a matching machine";
    return false;
  }
  std::string lib = runtimeLibDir() + "/libtfcrt.a";
  std::string mainLib = runtimeLibDir() + "/libtfc_main.a";
  if (native && (!fileExists(lib) || !fileExists(mainLib))) {
    error = "the tfc runtime is missing (" + lib +
            "); build the 'tfcrt' "
            "and 'tfc_main' targets, or set TFC_RUNTIME_LIB_DIR";
    return false;
  }

  TempDir tmp;
  if (!tmp.create(request.keepTemps, error))
    return false;

  std::fprintf(stderr,
               "tfc: compiling %zu distinct kernels (%zu calls) for %s\n",
               plan.kernels.size(), plan.steps.size(), resolved.c_str());
  std::string kernelsObj = tmp.path + "/kernels.o";
  std::string runtimeObj = tmp.path + "/halide_runtime.o";
  std::vector<std::string> kernelObjs;
  bool compiled = compileKernelObjects(plan.kernels, *target, kernelsObj,
                                       kernelObjs, error);
  for (const std::string &o : kernelObjs)
    if (o != kernelsObj)
      tmp.adopt(o);
  if (!compiled || !compileHalideRuntime(*target, runtimeObj, error))
    return false;
  std::fprintf(stderr, "tfc: kernels done (%.1f s)\n", secondsSince(start));

  std::string cName = cIdentifier(plan.model);
  std::string planC = tmp.path + "/plan.c", planObj = tmp.path + "/plan.o";
  if (!writeFile(
          planC,
          emitPlanSource(plan, spec, printSpec(spec), cName, resolved,
                         !request.library),
          error))
    return false;
  std::string cc = envOr("CC", "cc");
  std::vector<std::string> ccArgs = {
      cc,    "-c", "-O1",  "-fPIC", "-I" + runtimeIncludeDir(),
      planC, "-o", planObj};
  if (!native) {
    // Cross targets: the plan is data; the matching compiler builds it.
    ccArgs = {};
  }
  if (!ccArgs.empty() && !runTool(ccArgs, error))
    return false;

  if (!request.library) {
    // The linker writes a temporary file next to the output; only a
    // complete executable is renamed onto it.
    std::string out = request.output;
    AtomicFile exe;
    if (!exe.create(out, error))
      return false;
    std::vector<std::string> link = {envOr("CXX", "c++"), "-o",
                                     exe.tempPath(), planObj};
    link.insert(link.end(), kernelObjs.begin(), kernelObjs.end());
    for (const std::string &f : {runtimeObj, mainLib, lib})
      link.push_back(f);
    for (const std::string &f : sanitizerFlags())
      link.push_back(f);
    for (const char *f : {"-lpthread", "-ldl", "-lm"})
      link.push_back(f);
    // TFC_LINK_FLAGS: more flags for the executable's link, split at
    // spaces (e.g. -static-libstdc++ -static-libgcc for an executable that
    // must run on a machine with another C++ runtime).
    std::istringstream extra(envOr("TFC_LINK_FLAGS", ""));
    for (std::string f; extra >> f;)
      link.push_back(f);
    if (!runTool(link, error) || !exe.commit(0777, error))
      return false;
    std::fprintf(stderr, "tfc: wrote %s (%.1f s)\n", out.c_str(),
                 secondsSince(start));
    return true;
  }

  // Library: DIR/libNAME.a (kernels, runtime, plan, tfc runtime) + NAME.h.
  // Every file is written under a temporary name and renamed into place
  // (AtomicFile.h): an interrupted compile leaves the previous library and
  // header as they were.
  std::string dir = request.output;
  if (mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) {
    error =
        dir + ": cannot create the output directory: " + std::strerror(errno);
    return false;
  }
  std::string archive = dir + "/lib" + cName + ".a";
  std::string header = dir + "/" + cName + ".h";
  if (native) {
    AtomicFile out;
    if (!out.create(archive, error))
      return false;
    // ar -M reads its script from stdin (no shell: paths may hold quotes);
    // CREATE replaces the empty file mkstemp made.
    std::string mri = tmp.path + "/lib.mri";
    std::string script = "CREATE " + out.tempPath() + "\nADDMOD " + planObj;
    for (const std::string &o : kernelObjs)
      script += "\nADDMOD " + o;
    script += "\nADDMOD " + runtimeObj + "\nADDLIB " + lib + "\nSAVE\nEND\n";
    if (!writeFile(mri, script, error) ||
        !runTool({envOr("AR", "ar"), "-M"}, error, mri) ||
        !out.commit(0666, error))
      return false;
  } else {
    // Objects for another machine: the kernels, the Halide runtime and the
    // plan's C source, to be linked with a runtime built there.
    std::vector<std::pair<std::string, std::string>> copies = {
        {runtimeObj, dir + "/" + cName + "_halide_runtime.o"},
        {planC, dir + "/" + cName + "_plan.c"}};
    for (const std::string &o : kernelObjs) // kernels.o, or kernels.N.o
      copies.push_back({o, dir + "/" + cName + "_" +
                               o.substr(o.rfind('/') + 1)});
    for (auto [from, to] : copies)
      if (!copyFileAtomically(from, to, error))
        return false;
  }
  std::string guard = "TFC_MODEL_" + cName + "_H";
  for (char &c : guard)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string h =
      "/* " + cName + ".h: the model '" + plan.model +
      "' compiled by tfc for " + resolved + ".\n *\n * Link lib" + cName +
      ".a (it holds the kernels, the plan and the tfc runtime) with\n"
      " * -lstdc++ -lm -lpthread -ldl. The API is in tfc_runtime.h:\n"
      " *   tfc_weights *w = tfc_weights_load(tfc_model_" +
      cName +
      "(), path, err, sizeof err);\n"
      " *   tfc_context *c = tfc_context_create(w, threads, err, sizeof err);\n"
      " *   tfc_forward(c, tokens, n, out);  // out: n * " +
      std::to_string(plan.outputCols) +
      " floats\n"
      " * Token ids must be < " +
      std::to_string(plan.vocab) + " and n <= " + std::to_string(plan.maxSeq) +
      ".\n */\n#ifndef " + guard + "\n#define " + guard +
      "\n\n#include \"tfc_runtime.h\"\n\n"
      "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
      "/* The compiled model: pass it to tfc_weights_load. */\n"
      "const tfc_model *tfc_model_" +
      cName + "(void);\n\n#ifdef __cplusplus\n}\n#endif\n\n#endif\n";
  if (!writeFileAtomically(header, h, error))
    return false;
  for (const char *f : {"tfc_runtime.h", "tfc_plan.h"})
    if (!copyFileAtomically(runtimeIncludeDir() + "/" + f, dir + "/" + f,
                            error))
      return false;
  std::fprintf(stderr, "tfc: wrote %s and %s (%.1f s)\n",
               native ? archive.c_str() : (dir + "/*.o").c_str(),
               header.c_str(), secondsSince(start));
  return true;
}

} // namespace tfc
