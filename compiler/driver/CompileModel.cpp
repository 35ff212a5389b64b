//===- CompileModel.cpp - Kernels, plan and link: native code ------------===//
#include "driver/CompileModel.h"

#include "codegen/HalideKernels.h"
#include "driver/AtomicFile.h"
#include "plan/PlanSource.h"
#include "spec/SpecParser.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <elf.h>
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

/// Runs argv[0] with its arguments (no shell), its stdin from `input` and
/// its stdout to `output` when given; otherwise its output passes through.
bool runTool(const std::vector<std::string> &argv, std::string &error,
             const std::string &input = "", const std::string &output = "") {
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
    if (!output.empty()) {
      int fd = open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
      if (fd < 0 || dup2(fd, 1) < 0) {
        std::fprintf(stderr, "tfc: cannot write %s: %s\n", output.c_str(),
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

/// The directory of the running tfc executable ("" if unknown).
std::string executableDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0)
    return "";
  std::string path(buf, static_cast<size_t>(n));
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

/// Where the runtime is: $NAME if set; else, for an installed tfc
/// (PREFIX/bin/tfc), PREFIX/<relative> when it holds `probe` (the tree may
/// have been moved: nothing depends on the install prefix); else the build
/// tree's directory compiled in.
std::string runtimeDir(const char *name, const char *relative,
                       const char *probe, const char *buildTree) {
  const char *v = std::getenv(name);
  if (v && *v)
    return v;
  std::string exe = executableDir();
  if (!exe.empty()) {
    std::string installed = exe + "/../" + relative;
    if (fileExists(installed + "/" + probe))
      return installed;
  }
  return buildTree;
}

std::string runtimeLibDir() {
  return runtimeDir("TFC_RUNTIME_LIB_DIR", "lib/tfc", "libtfcrt.a",
                    TFC_RUNTIME_LIB_DIR);
}
std::string runtimeIncludeDir() {
  return runtimeDir("TFC_RUNTIME_INCLUDE_DIR", "include/tfc", "tfc_plan.h",
                    TFC_RUNTIME_INCLUDE_DIR);
}

/// A temporary directory ($TMPDIR or /tmp) and the files tfc puts in it,
/// removed when done, on error, or on SIGINT/SIGTERM/SIGHUP.
struct TempDir {
  static constexpr const char *kFiles[] = {
      "kernels.o", "halide_runtime.o", "plan.c",     "plan.o",
      "lib.mri",   "runtime.syms",     "linked.o",   "exports.map"};
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

/// Turns the STB_GNU_UNIQUE symbols of the relocatable ELF object `path`
/// (the static locals of inline functions and templates, in libstdc++'s
/// and yaml-cpp's headers) into STB_GLOBAL ones, in place: objcopy cannot
/// make a unique symbol local, and a global one it can. They stay among
/// the global symbols, so the symbol table's order holds.
bool globalizeUniqueSymbols(const std::string &path, std::string &error) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  Elf64_Ehdr eh;
  if (!f.read(reinterpret_cast<char *>(&eh), sizeof eh) ||
      std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr)) {
    error = path + ": not a 64-bit ELF object";
    return false;
  }
  for (unsigned i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    f.seekg(static_cast<std::streamoff>(eh.e_shoff + i * sizeof sh));
    if (!f.read(reinterpret_cast<char *>(&sh), sizeof sh)) {
      error = path + ": truncated section headers";
      return false;
    }
    if (sh.sh_type != SHT_SYMTAB || sh.sh_entsize != sizeof(Elf64_Sym))
      continue;
    for (uint64_t off = 0; off + sizeof(Elf64_Sym) <= sh.sh_size;
         off += sizeof(Elf64_Sym)) {
      Elf64_Sym sym;
      f.seekg(static_cast<std::streamoff>(sh.sh_offset + off));
      if (!f.read(reinterpret_cast<char *>(&sym), sizeof sym)) {
        error = path + ": truncated symbol table";
        return false;
      }
      if (ELF64_ST_BIND(sym.st_info) != STB_GNU_UNIQUE)
        continue;
      sym.st_info = ELF64_ST_INFO(STB_GLOBAL, ELF64_ST_TYPE(sym.st_info));
      f.seekp(static_cast<std::streamoff>(sh.sh_offset + off));
      f.write(reinterpret_cast<const char *>(&sym), sizeof sym);
    }
  }
  f.flush();
  if (!f) {
    error = path + ": cannot rewrite its symbol table";
    return false;
  }
  return true;
}

/// The model's library as one relocatable object: the plan, the kernels,
/// the Halide runtime and what the tfc API needs of libtfcrt.a (`ld -r`),
/// with every defined symbol made local except tfc_* (the API and the
/// entry tfc_model_NAME). Nothing of Halide's runtime, the C++ standard
/// library's templates, yaml-cpp or tfc's C++ internals can then clash with
/// (or be taken by) the program that links it. For a static library
/// (`weakApi`) the API's symbols are weak, all but the entry: two models'
/// libraries link into one program, the first one's runtime serving both
/// (each model keeps its own kernels and Halide runtime).
bool linkModelObject(const std::string &tmpDir, const std::string &planObj,
                     const std::vector<std::string> &kernelObjs,
                     const std::string &runtimeObj, const std::string &lib,
                     const std::string &cName, bool weakApi,
                     const std::string &output, std::string &error) {
  // The API: every tfc_* function libtfcrt.a defines (nm -P: "NAME TYPE
  // ..." per line), each forced in with -u (the plan refers to none).
  std::string symsFile = tmpDir + "/runtime.syms";
  if (!runTool({envOr("NM", "nm"), "-P", "-g", "--defined-only", lib}, error,
               "", symsFile))
    return false;
  std::vector<std::string> api;
  {
    std::ifstream in(symsFile);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string name, type;
      if (!(fields >> name >> type) || name.rfind("tfc_", 0) != 0 ||
          (type != "T" && type != "W"))
        continue;
      if (std::find(api.begin(), api.end(), name) == api.end())
        api.push_back(name);
    }
  }
  if (api.empty()) {
    error = lib + ": defines no tfc_* function (not a tfc runtime?)";
    return false;
  }
  std::string linked = tmpDir + "/linked.o";
  std::vector<std::string> ld = {envOr("LD", "ld"), "-r", "-o", linked,
                                 planObj};
  ld.insert(ld.end(), kernelObjs.begin(), kernelObjs.end());
  ld.push_back(runtimeObj);
  for (const std::string &name : api)
    ld.push_back("--undefined=" + name);
  ld.push_back(lib);
  if (!runTool(ld, error) || !globalizeUniqueSymbols(linked, error))
    return false;
  // The C++ templates' COMDAT groups are dissolved (--remove-section=.group)
  // along with their symbols: the final link would otherwise keep the
  // program's copy of a group of the same name and discard this one's,
  // whose code the now local references still name.
  std::vector<std::string> objcopy = {
      envOr("OBJCOPY", "objcopy"), "--wildcard", "--keep-global-symbol=tfc_*",
      "--remove-section=.group"};
  if (weakApi) {
    objcopy.push_back("--weaken-symbol=!tfc_model_" + cName);
    objcopy.push_back("--weaken-symbol=tfc_*");
  }
  objcopy.push_back(linked);
  objcopy.push_back(output);
  return runTool(objcopy, error);
}

/// TFC_LINK_FLAGS: more flags for the link of an executable or a shared
/// library, split at spaces (e.g. -static-libstdc++ -static-libgcc for an
/// executable that must run on a machine with another C++ runtime).
std::vector<std::string> extraLinkFlags() {
  std::vector<std::string> flags;
  std::istringstream extra(envOr("TFC_LINK_FLAGS", ""));
  for (std::string f; extra >> f;)
    flags.push_back(f);
  return flags;
}

/// The end of every link tfc runs: the sanitizer (if this build has one),
/// the system libraries the runtime uses, then TFC_LINK_FLAGS.
void appendSystemLinkFlags(std::vector<std::string> &link) {
  for (const std::string &f : sanitizerFlags())
    link.push_back(f);
  for (const char *f : {"-lpthread", "-ldl", "-lm"})
    link.push_back(f);
  for (const std::string &f : extraLinkFlags())
    link.push_back(f);
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
  if (!native && request.shared) {
    error = "--target " + resolved +
            ": --shared links on this machine; compile it with --library "
            "(objects and plan) and link on a matching machine";
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
    appendSystemLinkFlags(link);
    if (!runTool(link, error) || !exe.commit(0777, error))
      return false;
    std::fprintf(stderr, "tfc: wrote %s (%.1f s)\n", out.c_str(),
                 secondsSince(start));
    return true;
  }

  // Library: DIR/libNAME.a or DIR/libNAME.so (kernels, runtime, plan, tfc
  // runtime) + NAME.h. Every file is written under a temporary name and
  // renamed into place (AtomicFile.h): an interrupted compile leaves the
  // previous library and header as they were.
  std::string dir = request.output;
  if (mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) {
    error =
        dir + ": cannot create the output directory: " + std::strerror(errno);
    return false;
  }
  std::string archive =
      dir + "/lib" + cName + (request.shared ? ".so" : ".a");
  std::string header = dir + "/" + cName + ".h";
  if (native) {
    std::string modelObj = tmp.path + "/" + cName + ".o";
    tmp.adopt(modelObj);
    if (!linkModelObject(tmp.path, planObj, kernelObjs, runtimeObj, lib,
                         cName, !request.shared, modelObj, error))
      return false;
    AtomicFile out;
    if (!out.create(archive, error))
      return false;
    if (request.shared) {
      // Only tfc_* is exported (the version script); the archives' symbols
      // are never re-exported (--exclude-libs); the library's own calls bind
      // inside it (-Bsymbolic), so two models' libraries in one process
      // each run their own runtime. libstdc++ is linked in statically and
      // hidden: the library depends on libc, libm and libgcc_s only, loads
      // into a program built with another C++ runtime (or none: Python's
      // ctypes), and no C++ symbol of it can meet one of the program's.
      // Sanitized builds keep the shared libstdc++ their runtime expects.
      // -z nodelete: dlclose leaves the library mapped, as the kernels'
      // thread pool (process-wide, never joined) keeps running its code.
      std::string map = tmp.path + "/exports.map";
      if (!writeFile(map, "{\n  global: tfc_*;\n  local: *;\n};\n", error))
        return false;
      std::vector<std::string> link = {
          envOr("CXX", "c++"), "-shared", "-o", out.tempPath(), modelObj,
          "-Wl,-soname,lib" + cName + ".so", "-Wl,--version-script=" + map,
          "-Wl,--exclude-libs,ALL", "-Wl,-Bsymbolic", "-Wl,--no-undefined",
          "-Wl,-z,nodelete"};
      if (sanitizerFlags().empty())
        link.push_back("-static-libstdc++");
      appendSystemLinkFlags(link);
      if (!runTool(link, error) || !out.commit(0777, error))
        return false;
    } else {
      // ar -M reads its script from stdin (no shell: paths may hold
      // quotes); CREATE replaces the empty file mkstemp made.
      std::string mri = tmp.path + "/lib.mri";
      std::string script =
          "CREATE " + out.tempPath() + "\nADDMOD " + modelObj + "\nSAVE\nEND\n";
      if (!writeFile(mri, script, error) ||
          !runTool({envOr("AR", "ar"), "-M"}, error, mri) ||
          !out.commit(0666, error))
        return false;
    }
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
  std::string libName = "lib" + cName + (request.shared ? ".so" : ".a");
  std::string h =
      "/* " + cName + ".h: the model '" + plan.model +
      "' compiled by tfc for " + resolved + ".\n *\n * " + libName +
      " holds the kernels, the plan and the tfc runtime; it exports\n"
      " * only tfc_* symbols. " +
      (request.shared ? std::string("Link it with -l") + cName +
                            " (or dlopen it and\n * dlsym \"tfc_model_" +
                            cName + "\").\n"
                      : std::string("Link it with -lstdc++ -lm -lpthread "
                                    "-ldl.\n")) +
      " * The API is in tfc_runtime.h:\n"
      " *   tfc_weights *w = tfc_weights_load(tfc_model_" +
      cName +
      "(), path);\n"
      " *   tfc_context *c = tfc_context_create(w, NULL);\n"
      " *   tfc_forward(c, tokens, n, out);  // out: n * " +
      std::to_string(plan.outputCols) +
      " floats\n"
      " * Token ids must be < " +
      std::to_string(plan.vocab) + " and n <= " + std::to_string(plan.maxSeq) +
      "; errors: tfc_last_error().\n */\n#ifndef " + guard + "\n#define " +
      guard +
      "\n\n#include \"tfc_runtime.h\"\n\n"
      "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
      "/* The compiled model: pass it to tfc_weights_load. */\n"
      "TFC_API const tfc_model *tfc_model_" +
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
