//===- MemoryPlan.cpp - Kernel calls, buffers and the arena --------------===//
#include "plan/MemoryPlan.h"

#include "dialect/TfmDialect.h"
#include "fusion/KernelAttr.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <algorithm>
#include <sstream>

using namespace mlir;

namespace tfc {
namespace {

// Buffers start on 128-byte boundaries: two cache lines on the CPU, and
// the base-address alignment OpenCL devices ask of a sub-buffer (POCL's
// CL_DEVICE_MEM_BASE_ADDR_ALIGN), through which a GPU kernel reads an
// arena slice.
constexpr int64_t kAlign = 32; // floats

/// Row-major dims with ? as -1; rank-3 [N, H, K] flattens to [N, H*K] as
/// the kernels see it.
std::vector<int64_t> kernelDims(Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  std::vector<int64_t> dims;
  for (int64_t d : t.getShape())
    dims.push_back(ShapedType::isDynamic(d) ? -1 : d);
  if (dims.size() == 3 && dims[0] == -1)
    dims = {-1, dims[1] * dims[2]};
  return dims;
}

int64_t floatsAt(const std::vector<int64_t> &dims, int64_t n) {
  int64_t count = 1;
  for (int64_t d : dims)
    count *= d < 0 ? n : d;
  return count;
}

std::string dimsString(const std::vector<int64_t> &dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    s += i ? ", " : "";
    s += dims[i] < 0 ? "N" : std::to_string(dims[i]);
  }
  return s + "]";
}

} // namespace

std::string cIdentifier(const std::string &name) {
  std::string s;
  for (char c : name)
    s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0])))
    s = "m_" + s;
  return s;
}

/// The index of `w` in plan.weights, added if new.
static int32_t weightSlot(Plan &plan, const PlanWeight &w) {
  for (size_t i = 0; i < plan.weights.size(); ++i)
    if (plan.weights[i].sameAs(w))
      return static_cast<int32_t>(i);
  plan.weights.push_back(w);
  return static_cast<int32_t>(plan.weights.size() - 1);
}

/// Drops weights no step reads (a matrix the kernels read converted or
/// packed is loaded only in that form) and renumbers the arguments.
static void dropUnusedWeights(Plan &plan) {
  std::vector<int32_t> remap(plan.weights.size(), -1);
  for (const PlanStep &s : plan.steps)
    for (const PlanArg &a : s.args)
      if (a.kind == PlanArg::Weight)
        remap[a.index] = 0;
  std::vector<PlanWeight> kept;
  for (size_t i = 0; i < plan.weights.size(); ++i)
    if (remap[i] == 0) {
      remap[i] = static_cast<int32_t>(kept.size());
      kept.push_back(plan.weights[i]);
    }
  for (PlanStep &s : plan.steps)
    for (PlanArg &a : s.args)
      if (a.kind == PlanArg::Weight)
        a.index = remap[a.index];
  plan.weights = std::move(kept);
}

bool buildPlan(ModuleOp module, Plan &plan, std::string &error) {
  auto func = module.lookupSymbol<func::FuncOp>("forward");
  if (!func) {
    error = "the module has no func.func @forward";
    return false;
  }
  if (auto a = module->getAttrOfType<StringAttr>("tfm.model"))
    plan.model = a.str();
  if (auto a = module->getAttrOfType<IntegerAttr>("tfm.max_seq"))
    plan.maxSeq = a.getInt();
  if (auto a = module->getAttrOfType<IntegerAttr>("tfm.vocab"))
    plan.vocab = a.getInt();
  if (plan.maxSeq <= 0) {
    error = "the module does not say its max_seq (tfm.max_seq)";
    return false;
  }
  if (auto a = module->getAttrOfType<StringAttr>("tfm.family"))
    plan.family = a.str();
  Block &body = func.getBody().front();
  // Inputs by name: the tokens, and an encoder's token types and mask.
  llvm::DenseMap<Value, PlanArg::Kind> inputKind;
  for (unsigned i = 0; i < body.getNumArguments(); ++i) {
    auto name = func.getArgAttrOfType<StringAttr>(i, "tfm.input");
    bool ids = cast<RankedTensorType>(body.getArgument(i).getType())
                   .getElementType()
                   .isInteger(32);
    std::string n = name ? name.str() : "";
    bool encdec = plan.family == "encoder-decoder";
    if (ids && (n == "tokens" || (encdec && n == "target"))) {
      inputKind[body.getArgument(i)] = PlanArg::Tokens;
    } else if (ids && encdec && n == "source") {
      inputKind[body.getArgument(i)] = PlanArg::Source;
    } else if (ids && n == "token_types") {
      inputKind[body.getArgument(i)] = PlanArg::Types;
    } else if (ids && n == "attention_mask") {
      inputKind[body.getArgument(i)] = PlanArg::Mask;
    } else if (!ids && n == "image" && plan.family == "vit") {
      inputKind[body.getArgument(i)] = PlanArg::Image;
    } else {
      error = "compiled models take tokens (with an encoder's token types "
              "and attention mask, or an encoder-decoder's source) for now; "
              "model '" +
              plan.model + "' takes input '" + n + "'";
      return false;
    }
  }
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  Value output = ret.getOperand(0);
  // A ViT's sequence has a fixed length (1 + patches, its max_seq), which
  // its types state; the plan writes it as N like every other model's, so
  // the runtime sizes and patches its buffers the same way.
  bool vit = plan.family == "vit";
  auto actDims = [&](Value v) {
    std::vector<int64_t> dims = kernelDims(v);
    if (vit && !dims.empty() && dims[0] == plan.maxSeq) {
      dims[0] = -1;
      if (dims.size() == 3) // [N, H, K] as the kernels see it
        dims = {-1, dims[1] * dims[2]};
    }
    return dims;
  };
  std::vector<int64_t> outDims = kernelDims(output);
  bool rowsOut = outDims.size() == 2 && outDims[0] == -1;
  // One pooled row: a ViT's classes, an encoder's classifier or pooler.
  bool classesOut = (vit || plan.family == "encoder") && outDims.size() == 2 &&
                    outDims[0] == 1;
  if (!rowsOut && !classesOut) {
    error = "compiled models return [N, columns] (or a ViT's or an "
            "encoder's pooled [1, columns]) for now";
    return false;
  }
  plan.outputCols = outDims[1];

  llvm::DenseMap<Value, int32_t> weightIndex, bufferIndex, cacheIndex;
  std::map<std::string, int32_t> kernelIndex;
  // An encoder-decoder runs in two phases: the kernels that depend on the
  // source only (the encoder and the cross-attention keys and values) once
  // per source, then the rest per target call. The source's kernels come
  // first in the plan; their order among themselves, and the others', is
  // the program's, so every input is still computed before it is read.
  std::vector<tfm::KernelOp> sourceKernels, targetKernels;
  llvm::DenseSet<Value> fromTarget;
  for (Operation &op : body) {
    if (auto w = dyn_cast<tfm::WeightOp>(op)) {
      weightIndex[w.getResult()] = static_cast<int32_t>(plan.weights.size());
      plan.weights.push_back({w.getName().str(), kernelDims(w.getResult())});
      continue;
    }
    if (isa<func::ReturnOp>(op))
      continue;
    auto kernel = dyn_cast<tfm::KernelOp>(op);
    if (!kernel) {
      error = "'" + op.getName().getStringRef().str() +
              "' is outside every kernel: run tfm-fuse first";
      return false;
    }
    bool target = llvm::any_of(kernel.getInputs(), [&](Value in) {
      return fromTarget.count(in) ||
             (isa<BlockArgument>(in) && inputKind.lookup(in) != PlanArg::Source);
    });
    if (plan.family != "encoder-decoder" || target) {
      targetKernels.push_back(kernel);
      for (Value r : kernel.getResults())
        fromTarget.insert(r);
    } else {
      sourceKernels.push_back(kernel);
    }
  }
  plan.sourceSteps = static_cast<int32_t>(sourceKernels.size());
  std::vector<tfm::KernelOp> ordered = sourceKernels;
  ordered.insert(ordered.end(), targetKernels.begin(), targetKernels.end());
  for (tfm::KernelOp kernel : ordered) {
    bool inTarget = static_cast<int32_t>(plan.steps.size()) >= plan.sourceSteps;
    std::optional<KernelDesc> desc = kernelDescOf(kernel, error);
    if (!desc)
      return false;
    std::string symbol = kernel.getSymbol().str();
    if (symbol != desc->symbol()) {
      error = "kernel " + symbol + " does not match its descriptor (" +
              desc->symbol() + ")";
      return false;
    }
    // A tied head reads the [V, D] embedding transposed. The runtime keeps
    // a [D, V] copy (made once, at load time) and the head runs as an
    // untied projection: the register-tiled matrix product instead of one
    // dot product per logit, several times faster for long prompts.
    Value tiedTable;
    if (desc->kind == KernelKind::Head && desc->tied) {
      desc->tied = false;
      symbol = desc->symbol();
      tiedTable = kernel.getInputs().back();
    }
    if (desc->kind == KernelKind::Embed)
      plan.typeVocab = std::max(plan.typeVocab, desc->typeVocab);
    auto [it, inserted] = kernelIndex.try_emplace(
        symbol, static_cast<int32_t>(plan.kernels.size()));
    if (inserted)
      plan.kernels.push_back(*desc);
    PlanStep step;
    step.kernel = it->second;
    int32_t stepIndex = static_cast<int32_t>(plan.steps.size());
    if (auto label = kernel->getAttrOfType<StringAttr>("label"))
      step.label = label.str();
    for (Value in : kernel.getInputs()) {
      PlanArg arg;
      arg.dims = isa<BlockArgument>(in) || weightIndex.count(in)
                     ? kernelDims(in)
                     : actDims(in);
      if (isa<BlockArgument>(in)) {
        arg.kind = inputKind.lookup(in);
      } else if (in == tiedTable && weightIndex.count(in)) {
        PlanWeight table = plan.weights[weightIndex[in]];
        arg.kind = PlanArg::Weight;
        arg.dims = {table.dims[1], table.dims[0]};
        auto found = llvm::find_if(plan.weights, [&](const PlanWeight &w) {
          return w.transposed && w.name == table.name;
        });
        arg.index = static_cast<int32_t>(found - plan.weights.begin());
        if (found == plan.weights.end())
          plan.weights.push_back({table.name, arg.dims, true});
      } else if (weightIndex.count(in)) {
        arg.kind = PlanArg::Weight;
        arg.index = weightIndex[in];
      } else if (cacheIndex.count(in)) {
        arg.kind = PlanArg::Cache;
        arg.index = cacheIndex[in];
        // The keys of this call's sequence so far, or, in a target call,
        // the source's keys (cross-attention).
        bool source = !fromTarget.count(in);
        arg.seen = !(inTarget && source);
        arg.source = inTarget && source;
      } else if (bufferIndex.count(in)) {
        if (inTarget && !fromTarget.count(in)) {
          error = "kernel " + symbol +
                  " (a target step) reads an activation of the source's "
                  "steps; only the cross-attention keys and values outlive "
                  "the source call";
          return false;
        }
        arg.kind = PlanArg::Arena;
        arg.index = bufferIndex[in];
        plan.buffers[arg.index].lastStep = stepIndex;
      } else {
        error = "kernel " + symbol +
                ": an input comes from neither a weight, "
                "the tokens nor an earlier kernel";
        return false;
      }
      step.args.push_back(arg);
    }
    // Matrices in their storage type and layout (KernelDesc.h); an int8
    // matrix is followed by its per-column scales.
    if (hasMatrices(desc->kind) &&
        (desc->panel > 0 || desc->weightType != WeightType::F32)) {
      std::vector<int> mats = matrixInputs(*desc);
      std::vector<PlanArg> args;
      for (size_t i = 0; i < step.args.size(); ++i) {
        PlanArg arg = step.args[i];
        if (!llvm::is_contained(mats, static_cast<int>(i)) ||
            arg.kind != PlanArg::Weight) {
          args.push_back(arg);
          continue;
        }
        PlanWeight w = plan.weights[arg.index];
        if (w.dims.size() != 2) {
          error = "kernel " + symbol + ": matrix weight '" + w.name +
                  "' is not 2-D";
          return false;
        }
        int64_t in = w.dims[0], cols = w.dims[1];
        w.type = desc->weightType;
        w.panel = panelFor(*desc, cols);
        w.group = w.type == WeightType::I8 ? groupFor(*desc, in) : 0;
        int64_t padded =
            w.panel > 0 ? (cols + w.panel - 1) / w.panel * w.panel : cols;
        w.dims = w.panel > 0 ? std::vector<int64_t>{padded / w.panel, in,
                                                    w.panel}
                             : std::vector<int64_t>{in, cols};
        arg.index = weightSlot(plan, w);
        arg.dims = w.dims;
        args.push_back(arg);
        if (w.type == WeightType::I8) {
          PlanWeight scales = w;
          scales.scales = true;
          // Scales follow the matrix's panels: [panels, groups, P], so a
          // tile streams its scales next to its weights.
          scales.dims = w.panel > 0
                            ? std::vector<int64_t>{padded / w.panel,
                                                   in / w.group, w.panel}
                            : std::vector<int64_t>{in / w.group, padded};
          PlanArg s;
          s.kind = PlanArg::Weight;
          s.index = weightSlot(plan, scales);
          s.dims = scales.dims;
          args.push_back(s);
        }
      }
      step.args = std::move(args);
    }
    // Kernels that depend on positions take the first row's position.
    if (desc->kind == KernelKind::Embed || desc->kind == KernelKind::QKV) {
      PlanArg pos;
      pos.kind = PlanArg::Pos;
      step.args.push_back(pos);
    }
    for (auto [i, res] : llvm::enumerate(kernel.getResults())) {
      PlanArg arg;
      arg.dims = actDims(res);
      if (res == output) {
        arg.kind = PlanArg::Output;
      } else if (desc->kind == KernelKind::QKV &&
                 desc->parts != QKVParts::Q &&
                 (i > 0 || desc->parts == QKVParts::KV)) {
        // Keys and values go to this layer's rows of the KV cache.
        bool isK = desc->parts == QKVParts::KV ? i == 0 : i == 1;
        arg.kind = PlanArg::Cache;
        arg.index = static_cast<int32_t>(plan.caches.size());
        cacheIndex[res] = arg.index;
        PlanBuffer cache;
        cache.name = step.label + (isK ? ".k" : ".v");
        cache.dims = arg.dims;
        cache.floats = floatsAt(arg.dims, plan.maxSeq);
        cache.offset = plan.cacheFloats;
        plan.cacheFloats += (cache.floats + kAlign - 1) / kAlign * kAlign;
        plan.caches.push_back(cache);
      } else {
        arg.kind = PlanArg::Arena;
        arg.index = static_cast<int32_t>(plan.buffers.size());
        bufferIndex[res] = arg.index;
        PlanBuffer buf;
        buf.name =
            step.label + (kernel.getNumResults() > 1 ? "#" + std::to_string(i)
                                                     : std::string());
        buf.dims = arg.dims;
        buf.floats = floatsAt(arg.dims, plan.maxSeq);
        buf.firstStep = buf.lastStep = stepIndex;
        plan.buffers.push_back(buf);
      }
      step.args.push_back(arg);
    }
    plan.steps.push_back(std::move(step));
  }

  dropUnusedWeights(plan);

  // First-fit placement: a buffer may share memory with any buffer whose
  // live range does not intersect its own (ranges include the defining and
  // the last using step, so a kernel never writes over its own inputs).
  std::vector<size_t> placed;
  for (size_t b = 0; b < plan.buffers.size(); ++b) {
    PlanBuffer &buf = plan.buffers[b];
    plan.naiveFloats += (buf.floats + kAlign - 1) / kAlign * kAlign;
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (size_t o : placed) {
      const PlanBuffer &other = plan.buffers[o];
      if (other.firstStep <= buf.lastStep && buf.firstStep <= other.lastStep)
        busy.push_back({other.offset, other.offset + other.floats});
    }
    std::sort(busy.begin(), busy.end());
    int64_t offset = 0;
    for (auto [lo, hi] : busy) {
      if (offset + buf.floats <= lo)
        break;
      offset = std::max(offset, (hi + kAlign - 1) / kAlign * kAlign);
    }
    buf.offset = offset;
    plan.arenaFloats = std::max(plan.arenaFloats, offset + buf.floats);
    placed.push_back(b);
  }
  plan.arenaFloats = (plan.arenaFloats + kAlign - 1) / kAlign * kAlign;
  return true;
}

std::string printPlan(const Plan &plan) {
  std::ostringstream os;
  auto mib = [](int64_t floats) {
    std::ostringstream m;
    m.precision(3);
    m << std::fixed << static_cast<double>(floats) * 4 / (1024.0 * 1024.0)
      << " MiB";
    return m.str();
  };
  os << "plan for model '" << plan.model << "' (N <= max_seq = " << plan.maxSeq
     << "; sizes at N = max_seq, in f32 elements)\n\n";
  os << "kernels: " << plan.kernels.size() << " distinct, " << plan.steps.size()
     << " calls\n";
  for (size_t k = 0; k < plan.kernels.size(); ++k) {
    int calls = 0;
    for (const PlanStep &s : plan.steps)
      calls += s.kernel == static_cast<int32_t>(k);
    os << "  k" << k << "  " << plan.kernels[k].symbol() << "  x" << calls
       << "\n";
  }
  os << "\nsteps:\n";
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const PlanStep &s = plan.steps[i];
    if (plan.sourceSteps > 0 && i == 0)
      os << " once per source (N = S, the source's length):\n";
    if (plan.sourceSteps > 0 && i == size_t(plan.sourceSteps))
      os << " per target call (the cross-attention keys and values are "
            "the source's):\n";
    os << "  " << i << "  " << s.label << "  k" << s.kernel << "(";
    for (size_t a = 0; a < s.args.size(); ++a) {
      const PlanArg &arg = s.args[a];
      os << (a ? ", " : "");
      switch (arg.kind) {
      case PlanArg::Tokens:
        os << "tokens";
        break;
      case PlanArg::Types:
        os << "token_types";
        break;
      case PlanArg::Mask:
        os << "attention_mask";
        break;
      case PlanArg::Image:
        os << "image";
        break;
      case PlanArg::Source:
        os << "source";
        break;
      case PlanArg::Weight: {
        const PlanWeight &w = plan.weights[arg.index];
        os << w.name << (w.transposed ? "^T" : "");
        if (w.scales)
          os << ":scales";
        else if (w.type != WeightType::F32 || w.panel > 0)
          os << ":" << toString(w.type);
        if (w.panel > 0)
          os << "/p" << w.panel;
        if (w.group > 0)
          os << "/g" << w.group;
        break;
      }
      case PlanArg::Arena:
        os << "%" << plan.buffers[arg.index].name;
        break;
      case PlanArg::Output:
        os << "output";
        break;
      case PlanArg::Pos:
        os << "pos";
        break;
      case PlanArg::Cache:
        os << "cache:" << plan.caches[arg.index].name
           << (arg.source ? "[0..S)"
               : arg.seen ? "[0..pos+N)"
                          : "[pos..pos+N)");
        break;
      }
    }
    os << ")\n";
  }
  int64_t weightBytes = 0;
  for (const PlanWeight &w : plan.weights) {
    int64_t count = 1;
    for (int64_t d : w.dims)
      count *= d;
    weightBytes += count * (w.scales ? 4 : weightTypeBytes(w.type));
  }
  os << "\nweights: " << plan.weights.size() << " tensors, " << weightBytes
     << " bytes as the kernels read them\n";
  os << "\nbuffers (arena offset, size, live steps):\n";
  for (const PlanBuffer &b : plan.buffers)
    os << "  %" << b.name << " " << dimsString(b.dims) << "  offset "
       << b.offset << "  size " << b.floats << "  steps " << b.firstStep << ".."
       << b.lastStep << "\n";
  os << "\narena: " << plan.arenaFloats << " floats (" << mib(plan.arenaFloats)
     << ") for " << plan.buffers.size() << " buffers; without reuse "
     << plan.naiveFloats << " floats (" << mib(plan.naiveFloats) << ")\n";
  os << "\nKV cache (offset, size):\n";
  for (const PlanBuffer &c : plan.caches)
    os << "  " << c.name << " [" << plan.maxSeq << ", " << c.dims.back()
       << "]  offset " << c.offset << "  size " << c.floats << "\n";
  os << "KV cache: " << plan.cacheFloats << " floats (" << mib(plan.cacheFloats)
     << ")\n";
  os << "output: [N, " << plan.outputCols << "]\n";
  return os.str();
}

std::string deviceApiOf(const std::string &target) {
  std::istringstream parts(target);
  std::string feature;
  while (std::getline(parts, feature, '-'))
    if (feature == "cuda" || feature == "opencl")
      return feature;
  return "";
}

} // namespace tfc
