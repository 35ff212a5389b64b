//===- tfc.cpp - The tfc driver -------------------------------------------===//
//
//   tfc --emit=spec|tfm|primitives SPEC.yaml [-o FILE]
//   tfc init-weights SPEC.yaml -o W.safetensors [--seed S] [--layout L]
//   tfc run SPEC.yaml --weights W --tokens "1 2 3" --reference
//           [--dump-logits OUT.bin]
//
// Like Toy's driver, the pipeline is built up to the requested stage. MLIR's
// own options (--mlir-print-ir-after-all, --mlir-print-debuginfo, ...) work
// here too.
//
//===----------------------------------------------------------------------===//
#include "dialect/TfmDialect.h"
#include "dialect/TfmPasses.h"
#include "lowering/SpecToTfm.h"
#include "reference/Interpreter.h"
#include "spec/SpecParser.h"
#include "weights/InitWeights.h"
#include "weights/Layouts.h"
#include "weights/WeightLoader.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include "SafetensorsReader.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace cl = llvm::cl;
using namespace tfc;

namespace {

cl::OptionCategory tfcCategory("tfc options");

enum class Stage { Spec, Tfm, Primitives };
cl::opt<Stage> emit(
    "emit", cl::desc("Print the model at a stage and stop:"),
    cl::values(clEnumValN(Stage::Spec, "spec",
                          "the validated spec, defaults filled in (YAML)"),
               clEnumValN(Stage::Tfm, "tfm", "model-level tfm IR"),
               clEnumValN(Stage::Primitives, "primitives",
                          "tfm IR after tfm-decompose (primitive ops)")),
    cl::init(Stage::Tfm), cl::cat(tfcCategory));

cl::opt<std::string> specPath(cl::Positional, cl::desc("<spec.yaml>"),
                              cl::cat(tfcCategory));
cl::opt<std::string> outputPath("o", cl::desc("Output file (default: stdout "
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
cl::opt<std::string> tokenTypesText(
    "token-types", cl::desc("Token type ids (default: all 0)"),
    cl::cat(tfcCategory));
cl::opt<std::string> imagePath(
    "image-raw",
    cl::desc("ViT input: raw little-endian f32 image, H x W x C"),
    cl::value_desc("file"), cl::cat(tfcCategory));
cl::opt<bool> reference("reference",
                        cl::desc("Execute with the reference interpreter"),
                        cl::cat(tfcCategory));
cl::opt<bool> decomposed(
    "decomposed",
    cl::desc("With --reference: interpret the primitive IR instead of the "
             "model-level IR"),
    cl::cat(tfcCategory));
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
  for (WeightLayout l : {WeightLayout::Native, WeightLayout::HFGPT2,
                         WeightLayout::HFLlama, WeightLayout::HFBERT,
                         WeightLayout::HFViT})
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
      error = std::string("--") + what + ": expected non-negative integer "
              "token ids, found '" + word + "'";
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

mlir::OwningOpRef<mlir::ModuleOp> buildIR(mlir::MLIRContext &context,
                                          const ModelSpec &spec,
                                          bool toPrimitives) {
  mlir::OwningOpRef<mlir::ModuleOp> module = buildModelIR(context, spec);
  if (failed(mlir::verify(*module))) {
    llvm::errs() << "tfc: internal error: the model IR of '" << spec.name
                 << "' does not verify\n";
    return nullptr;
  }
  mlir::PassManager pm(&context);
  if (failed(mlir::applyPassManagerCLOptions(pm)))
    return nullptr;
  if (toPrimitives)
    pm.addPass(tfm::createTfmDecompose());
  if (failed(pm.run(*module)))
    return nullptr;
  return module;
}

int emitStage() {
  std::optional<ModelSpec> spec = loadSpec();
  if (!spec)
    return 1;
  std::string error;
  auto out = mlir::openOutputFile(outputPath.empty() ? std::string("-")
                                                   : outputPath.getValue(),
                                  &error);
  if (!out)
    return fail(error);
  if (emit == Stage::Spec) {
    out->os() << printSpec(*spec);
  } else {
    mlir::MLIRContext context;
    auto module = buildIR(context, *spec, emit == Stage::Primitives);
    if (!module)
      return 1;
    module->print(out->os());
    out->os() << "\n";
  }
  out->keep();
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
                  "hf-bert, hf-vit, found '" + layoutName + "'");
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
               << toString(layout) << ", seed " << seed << ") to "
               << outputPath << "\n";
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

int runCommand() {
  std::optional<ModelSpec> spec = loadSpec();
  if (!spec)
    return 1;
  if (!reference)
    return fail("run: compiled execution is not built yet; pass --reference "
                "to run the reference interpreter");
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
        return fail("--token-types: expected " +
                    std::to_string(tokens.dim(0)) + " ids, found " +
                    std::to_string(types.dim(0)));
      inputs.push_back(types);
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
                  std::to_string(pixels.size() * 4) +
                  " bytes of f32 pixels");
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
                  "hf-bert, hf-vit, found '" + layoutName + "'");
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
  auto module = buildIR(context, *spec, decomposed);
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
  if (argc > 1 && (std::string(argv[1]) == "run" ||
                   std::string(argv[1]) == "init-weights")) {
    command = argv[1];
    // Drop the subcommand so that the options parse as usual.
    for (int i = 1; i + 1 < argc; ++i)
      argv[i] = argv[i + 1];
    --argc;
  }
  cl::SetVersionPrinter(
      [](llvm::raw_ostream &os) { os << "tfc (transformer compiler) 0.1\n"; });
  cl::ParseCommandLineOptions(
      argc, argv,
      "tfc: a compiler for transformer models\n\n"
      "  tfc --emit=spec|tfm|primitives SPEC.yaml [-o FILE]\n"
      "  tfc init-weights SPEC.yaml -o W.safetensors [--seed S] "
      "[--layout L]\n"
      "  tfc run SPEC.yaml --weights W --tokens \"1 2 3\" --reference "
      "[--dump-logits OUT.bin]\n");
  if (command == "init-weights")
    return initWeightsCommand();
  if (command == "run")
    return runCommand();
  return emitStage();
}
