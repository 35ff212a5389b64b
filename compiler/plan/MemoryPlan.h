//===- MemoryPlan.h - Kernel calls, buffers and the arena -------*- C++ -*-===//
//
// The plan stage: from the fused IR (tfm.kernel calls), the ordered list of
// kernel calls with their arguments, and the memory plan that places every
// activation in one arena with liveness-based reuse, and the keys and values
// of every layer in the KV cache (the QKV kernel writes them there; the
// attention kernel reads every cached row, so decoding appends one token).
// Sizes are computed for N = max_seq, so the arena size is known at compile
// time; a call with fewer tokens uses the first N rows of each buffer. `tfc
// --emit=plan` prints it; the code generator turns it into the runtime's table
// (runtime/tfc_plan.h).
//
//===----------------------------------------------------------------------===//
#ifndef TFC_PLAN_MEMORYPLAN_H
#define TFC_PLAN_MEMORYPLAN_H

#include "codegen/KernelDesc.h"

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tfc {

struct PlanArg {
  enum Kind {
    Tokens = 0,
    Weight = 1,
    Arena = 2,
    Output = 3,
    Pos = 4,
    Cache = 5,
    Types = 6, // an encoder's token types: int32 [N]
    Mask = 7,  // an encoder's attention mask: int32 [N], 0 = padding
    Image = 8, // a ViT's image: f32 [H, W, C]
    Source = 9 // an encoder-decoder's source tokens: int32 [S]
  } kind;
  int32_t index = 0;         // Weight: into Plan::weights; Arena: into
                             // Plan::buffers; Cache: into Plan::caches
  std::vector<int64_t> dims; // row-major; -1 = N
  bool seen = false;         // Cache: rows 0..pos+N-1 (else pos..pos+N-1)
  bool source = false;       // Cache: rows 0..S-1, the source's (an
                             // encoder-decoder's cross-attention keys)
};

struct PlanBuffer {
  std::string name;                    // "qkv.0#1"
  std::vector<int64_t> dims;           // row-major, -1 = N
  int64_t floats = 0;                  // size at N = max_seq
  int64_t offset = 0;                  // in floats, 16-float (64-byte) aligned
  int32_t firstStep = 0, lastStep = 0; // live range (inclusive)
};

struct PlanStep {
  int32_t kernel = 0;        // into Plan::kernels
  std::string label;         // "qkv.3"
  std::vector<PlanArg> args; // inputs, then outputs (KernelDesc.h order)
};

struct PlanWeight {
  std::string name;
  std::vector<int64_t> dims; // as the kernels see it
  bool transposed = false;   // the 2-D tensor `name`, transposed at load time
  // Matrices (KernelDesc.h): storage type, packed panel width (0: row-major)
  // and, for int8, whether this entry is the per-column scales of `name`.
  WeightType type = WeightType::F32;
  int64_t panel = 0;
  int64_t group = 0; // int8: input rows per scale
  bool scales = false;
  bool sameAs(const PlanWeight &o) const {
    return name == o.name && transposed == o.transposed && type == o.type &&
           panel == o.panel && group == o.group && scales == o.scales;
  }
};

struct Plan {
  std::string model;
  int64_t maxSeq = 0, vocab = 0, outputCols = 0;
  std::string family = "decoder"; // the spec's family (tfm.family)
  int64_t typeVocab = 0;          // encoders with token types
  // Encoder-decoders: steps [0, sourceSteps) read the source (N = its
  // length) and end in the cross-attention keys and values of every
  // decoder layer, in the cache; the other steps run per target call.
  int32_t sourceSteps = 0;
  std::vector<KernelDesc> kernels; // distinct, in order of first use
  std::vector<PlanWeight> weights; // in order of first use
  std::vector<PlanStep> steps;
  std::vector<PlanBuffer> buffers;
  std::vector<PlanBuffer> caches; // K and V of each layer: [max_seq, W]
  int64_t arenaFloats = 0;
  int64_t cacheFloats = 0;
  int64_t naiveFloats = 0; // without reuse, for comparison
};

/// Builds the plan of `func.func @forward` in a module after tfm-fuse.
bool buildPlan(mlir::ModuleOp module, Plan &plan, std::string &error);

/// Human-readable: kernels, steps with their arguments, buffers with
/// offset and size, the arena total.
std::string printPlan(const Plan &plan);

/// "opencl" or "cuda" for a Halide target string with that device API, ""
/// for a CPU target.
std::string deviceApiOf(const std::string &target);

/// "tiny-decoder" -> "tiny_decoder" (a C identifier).
std::string cIdentifier(const std::string &name);

} // namespace tfc

#endif // TFC_PLAN_MEMORYPLAN_H
