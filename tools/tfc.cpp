//===- tfc.cpp - The tfc driver -------------------------------------------===//
//
//   tfc --emit=STAGE SPEC.yaml [-o FILE]     (spec, tfm, primitives, fused,
//                                             plan, halide, llvm, asm)
//   tfc compile SPEC.yaml [--target cpu] -o OUT [--library | --shared]
//   tfc init-weights SPEC.yaml -o W.safetensors [--seed S] [--layout L]
//   tfc run SPEC.yaml --weights W --tokens "1 2 3" [--reference]
//           [--dump-logits OUT.bin]
//
// Like Toy's driver, the pipeline is built up to the requested stage. MLIR's
// own options (--mlir-print-ir-after-all, --mlir-print-debuginfo, ...) work
// here too.
//
//===----------------------------------------------------------------------===//
#include "dialect/TfmDialect.h"
#include "dialect/TfmPasses.h"
#include "driver/AtomicFile.h"
#include "codegen/HalideKernels.h"
#include "driver/CompileModel.h"
#include "fusion/KernelAttr.h"
#include "lowering/SpecToTfm.h"
#include "plan/MemoryPlan.h"
#include "plan/PlanSource.h"
#include "reference/Interpreter.h"
#include "spec/SpecParser.h"
#include "tuning/Tuner.h"
#include "tuning/TuningFile.h"
#include "weights/InitWeights.h"
#include "weights/Layouts.h"
#include "weights/WeightLoader.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include "SafetensorsReader.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace cl = llvm::cl;
using namespace tfc;

namespace {

cl::OptionCategory tfcCategory("tfc options");

enum class Stage {
  Spec,
  Tfm,
  Primitives,
  Fused,
  Plan,
  Host,
  Halide,
  LLVM,
  Asm,
  Ptx,
  OpenCL
};
cl::opt<Stage>
    emit("emit", cl::desc("Print the model at a stage and stop:"),
         cl::values(
             clEnumValN(Stage::Spec, "spec",
                        "the validated spec, defaults filled in (YAML)"),
             clEnumValN(Stage::Tfm, "tfm", "model-level tfm IR"),
             clEnumValN(Stage::Primitives, "primitives",
                        "tfm IR after tfm-decompose (primitive ops)"),
             clEnumValN(Stage::Fused, "fused",
                        "tfm IR after tfm-fuse (tfm.kernel groups)"),
             clEnumValN(Stage::Plan, "plan",
                        "kernel calls, buffers, arena offsets and size"),
             clEnumValN(Stage::Host, "host",
                        "the host side: the plan table (C) the runtime walks"),
             clEnumValN(Stage::Halide, "halide",
                        "each kernel's lowered Halide statement"),
             clEnumValN(Stage::LLVM, "llvm", "each kernel's LLVM IR"),
             clEnumValN(Stage::Asm, "asm", "each kernel's assembly"),
             clEnumValN(Stage::Ptx, "ptx",
                        "each kernel's PTX (--target cuda)"),
             clEnumValN(Stage::OpenCL, "opencl",
                        "each kernel's OpenCL C source (--target opencl)")),
         cl::init(Stage::Tfm), cl::cat(tfcCategory));
cl::opt<std::string>
    target("target",
           cl::desc("cpu (the host: AVX-512 here, AVX2 elsewhere), "
                    "cpu:<halide-target> (e.g. cpu:arm-64-linux), opencl "
                    "or cuda (GPU kernels; the host code for this machine, "
                    "or opencl:<halide-target>, cuda:<halide-target>)"),
           cl::init("cpu"), cl::cat(tfcCategory));
cl::opt<bool> library("library",
                      cl::desc("compile: write DIR/libNAME.a and NAME.h "
                               "instead of an executable"),
                      cl::cat(tfcCategory));
cl::opt<bool> shared("shared",
                     cl::desc("compile: write DIR/libNAME.so (SONAME "
                              "libNAME.so) and NAME.h instead of an "
                              "executable"),
                     cl::cat(tfcCategory));
cl::opt<std::string> quantize(
    "quantize",
    cl::desc("compile: store matrix weights (projections, head) as f16, "
             "bf16 or int8 (symmetric, one scale per output column); "
             "computation stays f32 (default: f32)"),
    cl::init("f32"), cl::cat(tfcCategory));
cl::opt<std::string> quantizeHead(
    "quantize-head",
    cl::desc("compile: the head's matrix as f32, f16, bf16 or int8 "
             "(default: as --quantize)"),
    cl::init(""), cl::cat(tfcCategory));
cl::opt<int64_t> quantizeGroup(
    "quantize-group",
    cl::desc("compile: int8 scales: input rows per scale (default 32; 0 = "
             "one scale per output column)"),
    cl::init(32), cl::cat(tfcCategory));
cl::opt<bool> pack("pack",
                   cl::desc("compile: pack matrix weights in column panels "
                            "of one register tile (default true)"),
                   cl::init(true), cl::cat(tfcCategory));
cl::opt<std::string> tuningPath(
    "tuning",
    cl::desc("compile/run: per-kernel schedule parameters from a tuning "
             "file written by tfc tune (docs/tuning.md)"),
    cl::value_desc("file"), cl::init(""), cl::cat(tfcCategory));
cl::opt<std::string> tuneRows(
    "tune-rows",
    cl::desc("tune: row counts N to time, N or N:WEIGHT, comma-separated "
             "(default 1,128: a decode step and a prompt)"),
    cl::init("1,128"), cl::cat(tfcCategory));
cl::opt<double> tuneBudget("tune-budget",
                           cl::desc("tune: seconds per kernel (default 40)"),
                           cl::init(40), cl::cat(tfcCategory));
cl::opt<bool> keepTemps("keep-temps",
                        cl::desc("compile: keep the intermediate files"),
                        cl::cat(tfcCategory));
// `--threads` is taken out of argv before LLVM's parser sees it: LLVM 22
// registers an option of that name itself.
unsigned threads = 0;
cl::opt<bool> bench("bench", cl::desc("run: time the forward pass"),
                    cl::cat(tfcCategory));
cl::opt<bool> profile("profile", cl::desc("run: per-kernel timing table"),
                      cl::cat(tfcCategory));
cl::opt<std::string> promptText("prompt", cl::desc("generate: the prompt text"),
                                cl::cat(tfcCategory));
cl::opt<std::string> maxTokens("max-tokens",
                               cl::desc("generate: new tokens (default 100)"),
                               cl::init("100"), cl::cat(tfcCategory));
cl::opt<std::string> temperature("temperature",
                                 cl::desc("generate: 0 = greedy (default 0.8)"),
                                 cl::cat(tfcCategory));
cl::opt<std::string> topK("top-k", cl::desc("generate: default 40"),
                          cl::cat(tfcCategory));
cl::opt<std::string> topP("top-p", cl::desc("generate: default 0.95"),
                          cl::cat(tfcCategory));
cl::opt<std::string> stopToken("stop-token",
                               cl::desc("generate: stop after this token"),
                               cl::cat(tfcCategory));
cl::opt<std::string> tokenizerDir(
    "tokenizer-dir",
    cl::desc("generate: encoder.json and vocab.bpe for gpt2 models"),
    cl::cat(tfcCategory));

cl::opt<std::string> specPath(cl::Positional, cl::desc("<spec.yaml>"),
                              cl::cat(tfcCategory));
cl::opt<std::string> outputPath("o",
                                cl::desc("Output file (default: stdout "
                                         "for --emit)"),
                                cl::value_desc("file"), cl::cat(tfcCategory));
cl::opt<std::string> weightsPath("weights",
                                 cl::desc("Weights file (safetensors)"),
                                 cl::value_desc("file"), cl::cat(tfcCategory));
cl::opt<std::string> layoutName(
    "layout",
    cl::desc("Weight name layout: native, hf-gpt2, hf-llama, hf-bert, hf-vit "
             "(default: init-weights uses the spec's weights.layout; run "
             "detects it from the file's names)"),
    cl::value_desc("layout"), cl::cat(tfcCategory));
cl::opt<uint64_t> seed("seed", cl::desc("Random seed for init-weights"),
                       cl::init(0), cl::cat(tfcCategory));
cl::opt<std::string> tokensText("tokens",
                                cl::desc("Token ids, e.g. \"1 2 3\" (for an "
                                         "encoder-decoder: the target)"),
                                cl::cat(tfcCategory));
cl::opt<std::string> sourceText("source",
                                cl::desc("Source token ids (encoder-decoder)"),
                                cl::cat(tfcCategory));
cl::opt<std::string> tokenTypesText("token-types",
                                    cl::desc("Token type ids (default: all 0)"),
                                    cl::cat(tfcCategory));
cl::list<std::string> embedTexts(
    "text",
    cl::desc("embed: a text to embed (give two to print their cosine "
             "similarity)"),
    cl::cat(tfcCategory));
cl::opt<std::string> vocabPath(
    "vocab", cl::desc("embed: the WordPiece vocab.txt of an encoder"),
    cl::cat(tfcCategory));
cl::opt<std::string> poolKind("pool",
                              cl::desc("embed: cls or mean (default mean)"),
                              cl::cat(tfcCategory));
cl::opt<bool> cased("cased",
                    cl::desc("embed: keep case and accents (default: "
                             "lower-case, as uncased BERT vocabularies "
                             "expect)"),
                    cl::cat(tfcCategory));
cl::opt<std::string> classifyImage(
    "image", cl::desc("classify: the image (PNG, PPM or PGM)"),
    cl::cat(tfcCategory));
cl::opt<unsigned> classifyTop("top",
                              cl::desc("classify: the K most likely classes "
                                       "(default 5)"),
                              cl::init(5), cl::cat(tfcCategory));
cl::opt<std::string> maskText(
    "mask",
    cl::desc("Encoder attention mask: 1 per token, 0 per padding token "
             "(default: all 1)"),
    cl::cat(tfcCategory));
cl::opt<std::string>
    imagePath("image-raw",
              cl::desc("ViT input: raw little-endian f32 image, H x W x C"),
              cl::value_desc("file"), cl::cat(tfcCategory));
cl::opt<bool> reference("reference",
                        cl::desc("Execute with the reference interpreter"),
                        cl::cat(tfcCategory));
cl::opt<Stage> referenceIR(
    "reference-ir",
    cl::desc("With --reference: which IR the interpreter executes"),
    cl::values(clEnumValN(Stage::Tfm, "tfm", "model-level ops (default)"),
               clEnumValN(Stage::Primitives, "primitives",
                          "after tfm-decompose"),
               clEnumValN(Stage::Fused, "fused", "after tfm-fuse")),
    cl::init(Stage::Tfm), cl::cat(tfcCategory));
cl::opt<std::string> dumpLogits(
    "dump-logits",
    cl::desc("Write the output as raw little-endian f32, one row per token"),
    cl::value_desc("file"), cl::cat(tfcCategory));

int fail(const std::string &message) {
  llvm::errs() << "tfc: error: " << message << "\n";
  return 1;
}

/// Spec errors already carry "file:line:col: key: ..." and are printed as is.
std::optional<ModelSpec> loadSpec() {
  if (specPath.empty()) {
    llvm::errs() << "tfc: error: no spec file given (tfc --help)\n";
    return std::nullopt;
  }
  std::string error;
  std::optional<ModelSpec> spec = parseSpecFile(specPath, error);
  if (!spec)
    llvm::errs() << error << "\n";
  return spec;
}

std::optional<WeightLayout> parseLayout(const std::string &name) {
  for (WeightLayout l :
       {WeightLayout::Native, WeightLayout::HFGPT2, WeightLayout::HFLlama,
        WeightLayout::HFBERT, WeightLayout::HFViT})
    if (name == toString(l))
      return l;
  return std::nullopt;
}

bool parseIds(const std::string &text, const char *what, RefTensor &out,
              std::string &error) {
  std::istringstream in(text);
  std::string word;
  std::vector<double> ids;
  while (in >> word) {
    errno = 0;
    char *end = nullptr;
    long long v = std::strtoll(word.c_str(), &end, 10);
    if (*end != '\0' || errno == ERANGE || v < 0) {
      error = std::string("--") + what +
              ": expected non-negative integer "
              "token ids, found '" +
              word + "'";
      return false;
    }
    ids.push_back(static_cast<double>(v));
  }
  if (ids.empty()) {
    error = std::string("--") + what + ": expected at least one token id";
    return false;
  }
  int64_t n = static_cast<int64_t>(ids.size());
  out = RefTensor({n}, std::move(ids));
  return true;
}

/// The storage and schedule choices of --quantize, --pack and --target.
bool kernelOptions(KernelOptions &options, std::string &error) {
  std::optional<WeightType> type = parseWeightType(quantize);
  if (!type) {
    error = "--quantize: expected f32, f16, bf16 or int8, found '" +
            quantize + "'";
    return false;
  }
  options.weightType = options.headType = *type;
  if (!quantizeHead.empty()) {
    std::optional<WeightType> head = parseWeightType(quantizeHead);
    if (!head) {
      error = "--quantize-head: expected f32, f16, bf16 or int8, found '" +
              quantizeHead + "'";
      return false;
    }
    options.headType = *head;
  }
  if (quantizeGroup < 0 || quantizeGroup > (int64_t(1) << 20)) {
    error = "--quantize-group: expected 0 or a row count up to 2^20, found " +
            std::to_string(quantizeGroup);
    return false;
  }
  options.group = quantizeGroup;
  std::string resolved;
  if (!resolveTarget(target, resolved, error))
    return false;
  // GPU schedules read matrices row-major: a warp's threads take adjacent
  // columns of one input row, which packed panels would only reorder.
  if (pack && deviceApiOf(resolved).empty()) {
    std::optional<Halide::Target> t = parseKernelTarget(resolved, error);
    if (!t)
      return false;
    options.vectorFloats = std::max(1, t->natural_vector_size<float>());
  }
  if (!tuningPath.empty() && !deviceApiOf(resolved).empty()) {
    error = "--tuning: a tuning file holds CPU schedule choices; GPU "
            "targets have fixed schedules (docs/gpu.md)";
    return false;
  }
  if (!tuningPath.empty() &&
      !readTuningFile(tuningPath, options.tuning, error))
    return false;
  return true;
}

mlir::OwningOpRef<mlir::ModuleOp> buildIR(mlir::MLIRContext &context,
                                          const ModelSpec &spec, Stage upTo) {
  mlir::OwningOpRef<mlir::ModuleOp> module = buildModelIR(context, spec);
  if (failed(mlir::verify(*module))) {
    llvm::errs() << "tfc: internal error: the model IR of '" << spec.name
                 << "' does not verify\n";
    return nullptr;
  }
  mlir::PassManager pm(&context);
  if (failed(mlir::applyPassManagerCLOptions(pm)))
    return nullptr;
  if (upTo >= Stage::Primitives)
    pm.addPass(tfm::createTfmDecompose());
  if (upTo >= Stage::Fused)
    pm.addPass(tfm::createTfmFuse());
  if (failed(pm.run(*module)))
    return nullptr;
  if (upTo >= Stage::Fused) {
    std::string error;
    KernelOptions options;
    if (!kernelOptions(options, error) ||
        !applyKernelOptions(*module, options, error)) {
      llvm::errs() << "tfc: error: " << error << "\n";
      return nullptr;
    }
  }
  return module;
}

int emitStage() {
  std::optional<ModelSpec> spec = loadSpec();
  if (!spec)
    return 1;
  std::string error;
  // The whole text is built first, then written under a temporary name and
  // renamed onto -o FILE: a failed or interrupted run leaves FILE as it was.
  std::string text;
  llvm::raw_string_ostream os(text);
  if (emit == Stage::Spec) {
    os << printSpec(*spec);
  } else {
    mlir::MLIRContext context;
    auto module = buildIR(context, *spec, emit);
    if (!module)
      return 1;
    if (emit <= Stage::Fused) {
      module->print(os);
      os << "\n";
    } else {
      Plan plan;
      if (!buildPlan(*module, plan, error))
        return fail(error);
      if (emit == Stage::Plan) {
        os << printPlan(plan);
      } else if (emit == Stage::Host) {
        std::string resolved;
        if (!resolveTarget(target, resolved, error))
          return fail(error);
        os << emitPlanSource(plan, *spec, printSpec(*spec),
                             cIdentifier(spec->name), resolved, false);
      } else {
        std::string kernels;
        const char *what = emit == Stage::Halide   ? "stmt"
                           : emit == Stage::LLVM   ? "llvm"
                           : emit == Stage::Ptx    ? "ptx"
                           : emit == Stage::OpenCL ? "opencl"
                                                   : "asm";
        if (!kernelTexts(plan, target, what, kernels, error))
          return fail(error);
        os << kernels;
      }
    }
  }
  os.flush();
  if (outputPath.empty() || outputPath == "-") {
    llvm::outs() << text;
    return 0;
  }
  if (!writeFileAtomically(outputPath, text, error))
    return fail(error);
  return 0;
}

int initWeightsCommand() {
  std::optional<ModelSpec> spec = loadSpec();
  if (!spec)
    return 1;
  if (outputPath.empty())
    return fail("init-weights: -o <file.safetensors> is required");
  WeightLayout layout = spec->layout;
  if (!layoutName.empty()) {
    auto l = parseLayout(layoutName);
    if (!l)
      return fail("--layout: expected one of native, hf-gpt2, hf-llama, "
                  "hf-bert, hf-vit, found '" +
                  layoutName + "'");
    layout = *l;
  }
  std::map<std::string, RefTensor> weights = initWeights(*spec, seed);
  std::string error;
  if (!writeWeights(*spec, weights, layout, spec->dtype, outputPath, error))
    return fail(error);
  size_t count = 0;
  for (auto &entry : weights)
    count += entry.second.data.size();
  llvm::errs() << "tfc: wrote " << weights.size() << " tensors (" << count
               << " parameters, " << toString(spec->dtype) << ", layout "
               << toString(layout) << ", seed " << seed << ") to " << outputPath
               << "\n";
  return 0;
}

bool writeRawF32(const std::string &path, const RefTensor &t,
                 std::string &error) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) {
      error = path + ": cannot open for writing";
      return false;
    }
    for (double v : t.data) {
      float x = static_cast<float>(v);
      unsigned char bytes[4];
      std::memcpy(bytes, &x, 4); // x86-64 and AArch64 are little-endian
      f.write(reinterpret_cast<const char *>(bytes), 4);
    }
    if (!f) {
      error = path + ": write failed";
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = path + ": cannot rename the temporary file into place";
    return false;
  }
  return true;
}

/// Builds the fused IR and the plan of `spec`.
bool planModel(mlir::MLIRContext &context, const ModelSpec &spec, Plan &plan) {
  auto module = buildIR(context, spec, Stage::Fused);
  if (!module)
    return false;
  std::string error;
  if (!buildPlan(*module, plan, error)) {
    fail(error);
    return false;
  }
  return true;
}

int compileCommand() {
  std::optional<ModelSpec> spec = loadSpec();
  if (!spec)
    return 1;
  if (outputPath.empty())
    return fail("compile: -o <output> is required (an executable, or a "
                "directory with --library or --shared)");
  mlir::MLIRContext context;
  Plan plan;
  if (!planModel(context, *spec, plan))
    return 1;
  CompileRequest request;
  request.target = target;
  request.output = outputPath;
  request.library = library || shared;
  request.shared = shared;
  request.keepTemps = keepTemps;
  std::string error;
  if (!compileModel(plan, *spec, request, error))
    return fail(error);
  return 0;
}

int tuneCommand() {
  std::optional<ModelSpec> spec = loadSpec();
  if (!spec)
    return 1;
  if (outputPath.empty())
    return fail("tune: -o <tuning file> is required");
  mlir::MLIRContext context;
  Plan plan;
  if (!planModel(context, *spec, plan))
    return 1;
  TuneOptions options;
  options.threads = threads;
  options.budgetSeconds = tuneBudget;
  std::string error;
  if (!parseTuneRows(tuneRows, options, error) ||
      !tunePlan(plan, target, options, outputPath, error))
    return fail(error);
  return 0;
}

/// FNV-1a: a stable key for the compile cache, and the checksum of its
/// files. `h` continues a hash over several pieces.
constexpr uint64_t kFnvOffset = 1469598103934665603ull;
uint64_t fnv1a(const char *data, size_t size, uint64_t h = kFnvOffset) {
  for (size_t i = 0; i < size; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 1099511628211ull;
  }
  return h;
}
uint64_t fnv1a(const std::string &text) {
  return fnv1a(text.data(), text.size());
}

/// This tfc binary's size and modification time: a rebuilt tfc (new kernel
/// schedules, a new runtime) never reuses an older tfc's cached builds.
std::string buildIdentity() {
  llvm::sys::fs::file_status st;
  if (llvm::sys::fs::status("/proc/self/exe", st))
    return "unknown";
  return std::to_string(st.getSize()) + ":" +
         std::to_string(
             st.getLastModificationTime().time_since_epoch().count());
}

// --- The compile cache ----------------------------------------------------
// ROOT/KEY/ holds the executable NAME and a MANIFEST, written last:
//   tfc-cache-entry 1
//   NAME SIZE CHECKSUM        (bytes, FNV-1a 64 in hex)
// An entry is run only when every file it lists has that size and checksum:
// a crash, a full disk or a stray edit leaves a truncated or garbage file,
// which is rebuilt rather than run. Builders of one key hold an exclusive
// flock on ROOT/KEY.lock and build into ROOT/.tmp-KEY-XXXXXX, renamed to
// ROOT/KEY once complete: concurrent `tfc run`s compile once, and none sees
// half an entry. A valid entry is never replaced, so a run that checked one
// can exec it without the lock.

constexpr const char *kManifestName = "MANIFEST";
constexpr const char *kManifestHeader = "tfc-cache-entry 1";

/// Size and FNV-1a of a file's bytes.
bool checksumFile(const std::string &path, uint64_t &size, uint64_t &hash) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::vector<char> buf(1 << 20);
  size = 0;
  hash = kFnvOffset;
  while (in) {
    in.read(buf.data(), std::streamsize(buf.size()));
    size_t got = size_t(in.gcount());
    hash = fnv1a(buf.data(), got, hash);
    size += got;
  }
  return in.eof();
}

/// Whether the entry in `dir` is complete; if not, `reason` says why (empty
/// when there is no entry at all).
bool cacheEntryValid(const std::string &dir, std::string &reason) {
  reason.clear();
  if (!llvm::sys::fs::exists(dir))
    return false;
  std::string manifest = dir + "/" + kManifestName;
  std::ifstream in(manifest);
  if (!in) {
    reason = std::string(kManifestName) + " is missing";
    return false;
  }
  std::string line;
  if (!std::getline(in, line) || line != kManifestHeader) {
    reason = std::string(kManifestName) + " does not start with '" +
             kManifestHeader + "'";
    return false;
  }
  int files = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name, hashText, extra;
    uint64_t size = 0;
    if (!(fields >> name >> size >> hashText) || (fields >> extra) ||
        name.find('/') != std::string::npos || hashText.size() != 16) {
      reason = std::string(kManifestName) + " line " +
               std::to_string(files + 2) + " is not 'NAME SIZE CHECKSUM': '" +
               line + "'";
      return false;
    }
    ++files;
    std::string path = dir + "/" + name;
    uint64_t haveSize = 0, haveHash = 0;
    if (!llvm::sys::fs::exists(path)) {
      reason = name + " is missing";
      return false;
    }
    if (!checksumFile(path, haveSize, haveHash)) {
      reason = name + " cannot be read";
      return false;
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(haveHash));
    if (haveSize != size) {
      reason = name + " is " + std::to_string(haveSize) +
               " bytes, the manifest says " + std::to_string(size);
      return false;
    }
    if (hashText != hex) {
      reason =
          name + " has checksum " + hex + ", the manifest says " + hashText;
      return false;
    }
  }
  if (files == 0) {
    reason = std::string(kManifestName) + " lists no files";
    return false;
  }
  return true;
}

/// Writes DIR/MANIFEST for `names` (files in dir), atomically.
bool writeCacheManifest(const std::string &dir,
                        const std::vector<std::string> &names,
                        std::string &error) {
  std::string text = std::string(kManifestHeader) + "\n";
  for (const std::string &name : names) {
    uint64_t size = 0, hash = 0;
    if (!checksumFile(dir + "/" + name, size, hash)) {
      error = dir + "/" + name + ": cannot read back the build";
      return false;
    }
    char line[64];
    std::snprintf(line, sizeof line, " %llu %016llx\n",
                  static_cast<unsigned long long>(size),
                  static_cast<unsigned long long>(hash));
    text += name + line;
  }
  return writeFileAtomically(dir + "/" + kManifestName, text, error);
}

/// An exclusive flock on `path`, released when the object goes away (or
/// the process dies).
struct CacheLock {
  int fd = -1;
  bool acquire(const std::string &path, std::string &error) {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
      error = path + ": cannot open the cache lock: " + std::strerror(errno);
      return false;
    }
    int rc;
    while ((rc = flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (rc != 0) {
      error = path + ": cannot lock: " + std::strerror(errno);
      return false;
    }
    return true;
  }
  ~CacheLock() {
    if (fd >= 0)
      ::close(fd);
  }
};

/// Builds the executable of `spec` into the cache entry `root`/`key` unless
/// a valid one is there; `exe` is its path.
bool ensureCached(const ModelSpec &spec, const std::string &specText,
                  const std::string &target, const std::string &root,
                  const std::string &key, std::string &exe,
                  std::string &error) {
  std::string dir = root + "/" + key, name = cIdentifier(spec.name);
  exe = dir + "/" + name;
  std::string reason;
  if (cacheEntryValid(dir, reason)) {
    llvm::errs() << "tfc: using the cached build " << exe << "\n";
    return true;
  }
  if (std::error_code ec = llvm::sys::fs::create_directories(root)) {
    error = root + ": " + ec.message();
    return false;
  }
  CacheLock lock;
  if (!lock.acquire(root + "/" + key + ".lock", error))
    return false;
  // Another run may have built it while this one waited for the lock.
  if (cacheEntryValid(dir, reason)) {
    llvm::errs() << "tfc: using the cached build " << exe << "\n";
    return true;
  }
  if (!reason.empty())
    llvm::errs() << "tfc: cache entry " << dir << " is corrupt (" << reason
                 << "); rebuilding\n";
  // Builds of this key that died (killed, out of disk) left their temporary
  // directories; holding the lock, none of them is still running.
  std::string prefix = ".tmp-" + key + "-";
  std::error_code ec;
  std::vector<std::string> stale;
  for (llvm::sys::fs::directory_iterator it(root, ec), end; !ec && it != end;
       it.increment(ec))
    if (llvm::sys::path::filename(it->path()).starts_with(prefix))
      stale.push_back(it->path());
  for (const std::string &path : stale)
    llvm::sys::fs::remove_directories(path);

  std::string pattern = root + "/" + prefix + "XXXXXX";
  if (!mkdtemp(pattern.data())) {
    error = pattern + ": cannot create: " + std::strerror(errno);
    return false;
  }
  std::string tmp = pattern;
  llvm::scope_exit cleanup([&] { llvm::sys::fs::remove_directories(tmp); });
  mlir::MLIRContext context;
  Plan plan;
  if (!planModel(context, spec, plan)) {
    error.clear(); // planModel reported it
    return false;
  }
  CompileRequest request;
  request.target = target;
  request.output = tmp + "/" + name;
  if (!compileModel(plan, spec, request, error) ||
      !writeCacheManifest(tmp, {name}, error))
    return false;
  // Replace what is there (a corrupt entry) with the complete build.
  if (llvm::sys::fs::exists(dir))
    llvm::sys::fs::remove_directories(dir);
  if (std::rename(tmp.c_str(), dir.c_str()) != 0) {
    error = dir + ": cannot move the build " + tmp +
            " into the cache: " + std::strerror(errno);
    return false;
  }
  llvm::errs() << "tfc: cached the build as " << exe << "\n";
  return true;
}

/// The options that change the compiled kernels besides the target (part
/// of the cache key).
/// The tuning file's parameters, as they enter the cache key (the file's
/// comments do not); an unreadable file fails later, in kernelOptions.
std::string tuningChoices() {
  std::map<std::string, KernelTuning> tuning;
  std::string error;
  if (tuningPath.empty() || !readTuningFile(tuningPath, tuning, error))
    return "";
  return "\ntuning:\n" + formatTuning(tuning);
}

std::string kernelChoices() {
  return "quantize=" + quantize + " head=" + quantizeHead +
         " group=" + std::to_string(quantizeGroup) +
         " pack=" + (pack ? "1" : "0") + tuningChoices();
}

/// `tfc run` without --reference: compile into the cache (keyed by the
/// validated spec, the target, the kernel options and this tfc build), then
/// run the executable.
enum class RunMode { Run, Generate, Embed, Classify };

int runCompiled(const ModelSpec &spec, RunMode mode) {
  bool generating = mode == RunMode::Generate;
  if (weightsPath.empty())
    return fail("--weights <file.safetensors> is required");
  if (mode == RunMode::Run && tokensText.empty() &&
      !(spec.family == Family::ViT && !imagePath.empty()))
    return fail("run: --tokens \"…\" is required");
  if (mode == RunMode::Classify) {
    if (spec.family != Family::ViT)
      return fail("classify: model '" + spec.name + "' is of family " +
                  toString(spec.family) + "; classify takes a vit");
    if (classifyImage.empty() == imagePath.empty())
      return fail("classify: give --image FILE (PNG, PPM or PGM) or "
                  "--image-raw FILE");
    if (classifyTop < 1)
      return fail("classify: --top must be at least 1");
  }
  if (mode == RunMode::Embed) {
    if (spec.family != Family::Encoder)
      return fail("embed: model '" + spec.name + "' is of family " +
                  toString(spec.family) + "; embed takes an encoder");
    if (embedTexts.empty() || embedTexts.size() > 2)
      return fail("embed: give one --text \"…\" (or two, for their cosine "
                  "similarity)");
    if (vocabPath.empty())
      return fail("embed: --vocab vocab.txt (the model's WordPiece "
                  "vocabulary) is required");
  }
  if (generating && tokensText.empty() == promptText.empty())
    return fail("generate: give --prompt \"text\" or --tokens \"ids\"" +
                std::string(spec.family == Family::EncoderDecoder
                                ? " (the decoder's first tokens, e.g. its "
                                  "start token)"
                                : ""));
  if ((mode == RunMode::Run || generating) &&
      (spec.family == Family::EncoderDecoder) == sourceText.empty() && !bench)
    return fail(sourceText.empty()
                    ? "model '" + spec.name +
                          "' is an encoder-decoder: give --source \"ids\" "
                          "(the encoder's input)"
                    : "--source is for encoder-decoder models; '" +
                          spec.name + "' is of family " +
                          toString(spec.family));
  std::string resolved, error;
  if (!resolveTarget(target, resolved, error))
    return fail(error);
  const char *home = std::getenv("HOME");
  std::string root = std::getenv("TFC_CACHE_DIR") ? std::getenv("TFC_CACHE_DIR")
                     : std::getenv("XDG_CACHE_HOME")
                         ? std::string(std::getenv("XDG_CACHE_HOME")) + "/tfc"
                     : home ? std::string(home) + "/.cache/tfc"
                            : std::string("/tmp/tfc-cache");
  std::string specText = printSpec(spec);
  char key[32];
  std::snprintf(key, sizeof key, "%016llx",
                static_cast<unsigned long long>(fnv1a(
                    specText + "\n" + resolved + "\n" + kernelChoices() +
                    "\n" + buildIdentity())));
  std::string exe;
  if (!ensureCached(spec, specText, resolved, root, key, exe, error))
    return error.empty() ? 1 : fail(error);
  std::vector<std::string> args = {exe, "--weights", weightsPath};
  if (!tokensText.empty())
    args.insert(args.end(), {"--tokens", tokensText});
  if (!sourceText.empty())
    args.insert(args.end(), {"--source", sourceText});
  if (!tokenTypesText.empty())
    args.insert(args.end(), {"--token-types", tokenTypesText});
  if (!maskText.empty())
    args.insert(args.end(), {"--mask", maskText});
  if (!classifyImage.empty())
    args.insert(args.end(), {"--image", classifyImage});
  if (!imagePath.empty())
    args.insert(args.end(), {"--image-raw", imagePath});
  if (mode == RunMode::Classify)
    args.insert(args.end(), {"--top", std::to_string(classifyTop)});
  if (mode == RunMode::Embed) {
    for (const std::string &text : embedTexts)
      args.insert(args.end(), {"--text", text});
    args.insert(args.end(), {"--vocab", vocabPath});
    if (!poolKind.empty())
      args.insert(args.end(), {"--pool", poolKind});
    if (cased)
      args.push_back("--cased");
  }
  if (generating) {
    if (!promptText.empty())
      args.insert(args.end(), {"--prompt", promptText});
    args.insert(args.end(),
                {"--max-tokens", maxTokens, "--seed", std::to_string(seed)});
    for (auto [flag, value] :
         {std::pair<const char *, std::string>{"--temperature", temperature},
          {"--top-k", topK},
          {"--top-p", topP},
          {"--stop-token", stopToken},
          {"--tokenizer-dir", tokenizerDir}})
      if (!value.empty())
        args.insert(args.end(), {flag, value});
  }
  if (!dumpLogits.empty())
    args.insert(args.end(), {"--dump-logits", dumpLogits});
  if (threads)
    args.insert(args.end(), {"--threads", std::to_string(threads)});
  if (bench)
    args.push_back("--bench");
  if (profile)
    args.push_back("--profile");
  std::vector<char *> argv;
  for (std::string &a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  llvm::outs().flush();
  llvm::errs().flush();
  execv(exe.c_str(), argv.data());
  return fail("cannot run " + exe + ": " + std::strerror(errno));
}

int generateCommand() {
  std::optional<ModelSpec> spec = loadSpec();
  if (!spec)
    return 1;
  return runCompiled(*spec, RunMode::Generate);
}

int classifyCommand() {
  std::optional<ModelSpec> spec = loadSpec();
  if (!spec)
    return 1;
  return runCompiled(*spec, RunMode::Classify);
}

int embedCommand() {
  std::optional<ModelSpec> spec = loadSpec();
  if (!spec)
    return 1;
  return runCompiled(*spec, RunMode::Embed);
}

int runCommand() {
  std::optional<ModelSpec> spec = loadSpec();
  if (!spec)
    return 1;
  if (!reference)
    return runCompiled(*spec, RunMode::Run);
  if (weightsPath.empty())
    return fail("run: --weights <file.safetensors> is required");

  std::string error;
  std::vector<RefTensor> inputs;
  switch (spec->family) {
  case Family::Decoder:
  case Family::Encoder: {
    RefTensor tokens;
    if (!parseIds(tokensText, "tokens", tokens, error))
      return fail(error);
    inputs.push_back(tokens);
    if (spec->dims.typeVocab > 0) {
      RefTensor types({tokens.dim(0)});
      if (!tokenTypesText.empty() &&
          !parseIds(tokenTypesText, "token-types", types, error))
        return fail(error);
      if (types.dim(0) != tokens.dim(0))
        return fail("--token-types: expected " + std::to_string(tokens.dim(0)) +
                    " ids, found " + std::to_string(types.dim(0)));
      inputs.push_back(types);
    }
    if (spec->family == Family::Encoder) {
      RefTensor mask({tokens.dim(0)});
      for (double &m : mask.data)
        m = 1;
      if (!maskText.empty() && !parseIds(maskText, "mask", mask, error))
        return fail(error);
      // (The interpreter checks its values, as the runtime does.)
      if (mask.dim(0) != tokens.dim(0))
        return fail("--mask: expected " + std::to_string(tokens.dim(0)) +
                    " entries, found " + std::to_string(mask.dim(0)));
      inputs.push_back(mask);
    } else if (!maskText.empty()) {
      return fail("--mask: only encoder models take an attention mask");
    }
    break;
  }
  case Family::EncoderDecoder: {
    RefTensor source, target;
    if (!parseIds(sourceText, "source", source, error) ||
        !parseIds(tokensText, "tokens", target, error))
      return fail(error);
    inputs = {source, target};
    break;
  }
  case Family::ViT: {
    const ImageSpec &img = *spec->image;
    RefTensor image({img.height, img.width, img.channels});
    if (imagePath.empty())
      return fail("run: a vit model needs --image-raw <file> (f32, " +
                  std::to_string(img.height) + " x " +
                  std::to_string(img.width) + " x " +
                  std::to_string(img.channels) + ")");
    std::ifstream f(imagePath, std::ios::binary);
    std::vector<float> pixels(image.data.size());
    if (!f.read(reinterpret_cast<char *>(pixels.data()),
                static_cast<std::streamsize>(pixels.size() * 4)))
      return fail(imagePath + ": expected " +
                  std::to_string(pixels.size() * 4) + " bytes of f32 pixels");
    for (size_t i = 0; i < pixels.size(); ++i)
      image.data[i] = pixels[i];
    inputs.push_back(image);
    break;
  }
  }

  std::optional<WeightLayout> layout;
  if (!layoutName.empty()) {
    layout = parseLayout(layoutName);
    if (!layout)
      return fail("--layout: expected one of native, hf-gpt2, hf-llama, "
                  "hf-bert, hf-vit, found '" +
                  layoutName + "'");
  }
  if (!layout) {
    // The file's names tell its layout; the spec's layout is the fallback.
    auto file = SafetensorsFile::open(weightsPath, error);
    if (!file)
      return fail(error);
    layout = detectLayout(*file);
    if (!layout)
      layout = spec->layout;
  }
  std::map<std::string, RefTensor> weights;
  if (!loadWeights(*spec, weightsPath, *layout, weights, error))
    return fail(error);

  mlir::MLIRContext context;
  auto module = buildIR(context, *spec, referenceIR);
  if (!module)
    return 1;
  RefTensor output;
  if (!interpret(*module, weights, inputs, output, error))
    return fail(error);

  llvm::errs() << "tfc: reference output [";
  for (size_t i = 0; i < output.shape.size(); ++i)
    llvm::errs() << (i ? ", " : "") << output.shape[i];
  llvm::errs() << "]\n";
  if (!dumpLogits.empty()) {
    if (!writeRawF32(dumpLogits, output, error))
      return fail(error);
  }
  // The last row's largest entry: the next token (lm) or the class.
  if (output.rank() == 2 && output.dim(1) > 0) {
    int64_t cols = output.dim(1), row = output.dim(0) - 1, best = 0;
    for (int64_t j = 1; j < cols; ++j)
      if (output[row * cols + j] > output[row * cols + best])
        best = j;
    llvm::outs() << "argmax of the last row: " << best << " ("
                 << output[row * cols + best] << ")\n";
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();

  std::string command;
  if (argc > 1 &&
      (std::string(argv[1]) == "run" || std::string(argv[1]) == "compile" ||
       std::string(argv[1]) == "generate" || std::string(argv[1]) == "tune" ||
       std::string(argv[1]) == "init-weights" ||
       std::string(argv[1]) == "embed" ||
       std::string(argv[1]) == "classify")) {
    command = argv[1];
    // Drop the subcommand so that the options parse as usual.
    for (int i = 1; i + 1 < argc; ++i)
      argv[i] = argv[i + 1];
    --argc;
  }
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string value;
    int drop = 0;
    if (a == "--threads" && i + 1 < argc) {
      value = argv[i + 1];
      drop = 2;
    } else if (a.rfind("--threads=", 0) == 0) {
      value = a.substr(10);
      drop = 1;
    }
    if (!drop)
      continue;
    char *end = nullptr;
    unsigned long n = std::strtoul(value.c_str(), &end, 10);
    if (value.empty() || *end || n > 4096)
      return fail("--threads: expected a count from 0 (all cores) to 4096, "
                  "found '" +
                  value + "'");
    threads = static_cast<unsigned>(n);
    for (int j = i; j + drop <= argc; ++j)
      argv[j] = argv[j + drop];
    argc -= drop;
    --i;
  }
  cl::SetVersionPrinter(
      [](llvm::raw_ostream &os) { os << "tfc (transformer compiler) 0.1\n"; });
  cl::ParseCommandLineOptions(
      argc, argv,
      "tfc: a compiler for transformer models\n\n"
      "  tfc --emit=spec|tfm|primitives|fused|plan|host|halide|llvm|asm "
      "SPEC.yaml "
      "[-o FILE]\n"
      "  tfc compile SPEC.yaml [--target cpu|cpu:<halide-target>] -o OUT "
      "[--library | --shared] [--tuning FILE]\n"
      "  tfc tune SPEC.yaml -o TUNING.txt [--target cpu] [--quantize T] "
      "[--threads N] [--tune-rows 1,128] [--tune-budget S]\n"
      "  tfc init-weights SPEC.yaml -o W.safetensors [--seed S] "
      "[--layout L]\n"
      "  tfc run SPEC.yaml --weights W --tokens \"1 2 3\" [--reference] "
      "[--dump-logits OUT.bin] [--bench] [--profile]\n"
      "  tfc generate SPEC.yaml --weights W --prompt \"text\" [--max-tokens K] "
      "[--temperature T] [--top-k K] [--top-p P] [--seed S]\n"
      "      (encoder-decoders: --source \"ids\" --tokens \"start ids\"; "
      "run takes --source too)\n"
      "  tfc embed SPEC.yaml --weights W --vocab vocab.txt --text \"a\" "
      "[--text \"b\"] [--pool cls|mean]\n"
      "  tfc classify SPEC.yaml --weights W --image x.png [--top K]\n");
  if (command == "init-weights")
    return initWeightsCommand();
  if (command == "run")
    return runCommand();
  if (command == "compile")
    return compileCommand();
  if (command == "tune")
    return tuneCommand();
  if (command == "generate")
    return generateCommand();
  if (command == "embed")
    return embedCommand();
  if (command == "classify")
    return classifyCommand();
  return emitStage();
}
