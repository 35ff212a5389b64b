//===- Interpreter.cpp - The reference interpreter -----------------------===//
//
// Model-level ops are evaluated by the kernels in RefKernels (which compute
// attention and norms directly), primitive ops by the primitive kernels.
// Running the same model before and after tfm-decompose therefore checks
// the decomposition against an independent implementation.
//
//===----------------------------------------------------------------------===//
#include "reference/Interpreter.h"

#include "dialect/TfmDialect.h"
#include "reference/RefKernels.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <sstream>

using namespace mlir;

namespace tfc {
namespace {

std::string shapeString(const std::vector<int64_t> &shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i)
    os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

ref::ActKind toKernel(tfm::Activation a) {
  switch (a) {
  case tfm::Activation::relu:
    return ref::ActKind::ReLU;
  case tfm::Activation::gelu:
    return ref::ActKind::GELU;
  case tfm::Activation::gelu_tanh:
    return ref::ActKind::GELUTanh;
  case tfm::Activation::silu:
    return ref::ActKind::SiLU;
  case tfm::Activation::tanh:
    return ref::ActKind::Tanh;
  }
  return ref::ActKind::ReLU;
}

/// Does a runtime shape fit a (possibly dynamic) static type?
bool fits(const std::vector<int64_t> &shape, Type type) {
  auto t = cast<RankedTensorType>(type);
  if (static_cast<int64_t>(shape.size()) != t.getRank())
    return false;
  for (int64_t i = 0; i < t.getRank(); ++i)
    if (!t.isDynamicDim(i) && t.getDimSize(i) != shape[i])
      return false;
  return true;
}

class Evaluator {
public:
  Evaluator(const std::map<std::string, RefTensor> &weights, int64_t maxSeq)
      : weights(weights), maxSeq(maxSeq) {}

  bool run(func::FuncOp func, const std::vector<RefTensor> &inputs,
           RefTensor &output, std::string &error);

private:
  const RefTensor &get(Value v) { return values.find(v)->second; }
  const RefTensor *getOptional(Value v) { return v ? &get(v) : nullptr; }

  bool eval(Operation *op, std::string &error);
  RefTensor attention(tfm::AttentionOp op);
  RefTensor mlp(tfm::MLPOp op);

  const std::map<std::string, RefTensor> &weights;
  int64_t maxSeq;
  llvm::DenseMap<Value, RefTensor> values;
};

RefTensor Evaluator::attention(tfm::AttentionOp op) {
  auto biases = op.getBiases();
  auto bias = [&](int i) { return biases.empty() ? nullptr : &get(biases[i]); };
  const RefTensor &x = get(op.getX());
  const RefTensor &src = op.getMemory() ? get(op.getMemory()) : x;
  int64_t h = op.getHeads(), hkv = op.getKvHeads(), k = op.getHeadDim();
  RefTensor q = ref::linear(x, get(op.getWq()), bias(0));
  RefTensor kk = ref::linear(src, get(op.getWk()), bias(1));
  RefTensor v = ref::linear(src, get(op.getWv()), bias(2));
  if (auto theta = op.getRopeTheta()) {
    q = ref::rope(q, h, k, theta->convertToDouble(), 0);
    kk = ref::rope(kk, hkv, k, theta->convertToDouble(), 0);
  }
  RefTensor o = ref::attention(q, kk, v, h, hkv, k, op.getCausal(),
                               getOptional(op.getKeyMask()));
  return ref::linear(o, get(op.getWo()), bias(3));
}

RefTensor Evaluator::mlp(tfm::MLPOp op) {
  auto biases = op.getBiases();
  auto bias = [&](int i) { return biases.empty() ? nullptr : &get(biases[i]); };
  const RefTensor &x = get(op.getX());
  RefTensor hidden = ref::activation(ref::linear(x, get(op.getW1()), bias(0)),
                                     toKernel(op.getActivation()));
  if (op.getW3())
    hidden = ref::binary(hidden, ref::linear(x, get(op.getW3()), bias(2)),
                         ref::BinaryKind::Mul);
  return ref::linear(hidden, get(op.getW2()), bias(1));
}

bool Evaluator::eval(Operation *op, std::string &error) {
  if (isa<func::ReturnOp>(op))
    return true;
  if (auto kernel = dyn_cast<tfm::KernelOp>(op)) {
    // A fused kernel runs its body: the primitive ops it groups.
    Block &body = kernel.getBody().front();
    for (auto [arg, in] : llvm::zip(body.getArguments(), kernel.getInputs())) {
      RefTensor copy = get(in); // the map may grow while inserting
      values[arg] = std::move(copy);
    }
    for (Operation &inner : body) {
      if (auto yield = dyn_cast<tfm::YieldOp>(inner)) {
        for (auto [res, val] :
             llvm::zip(kernel.getResults(), yield.getValues())) {
          RefTensor copy = get(val);
          values[res] = std::move(copy);
        }
        return true;
      }
      if (!eval(&inner, error))
        return false;
    }
    error = "kernel " + kernel.getSymbol().str() + " has no yield";
    return false;
  }
  RefTensor result;
  bool ok = true;
  llvm::TypeSwitch<Operation *>(op)
      // --- model-level ops ---
      .Case([&](tfm::WeightOp w) {
        std::string name = w.getName().str();
        auto it = weights.find(name);
        auto type = cast<RankedTensorType>(w.getType());
        std::vector<int64_t> want(type.getShape().begin(),
                                  type.getShape().end());
        if (it == weights.end()) {
          error = "weight '" + name + "' " + shapeString(want) +
                  " is not in the weights";
          ok = false;
        } else if (it->second.shape != want) {
          error = "weight '" + name + "': expected shape " + shapeString(want) +
                  ", found " + shapeString(it->second.shape);
          ok = false;
        } else {
          result = it->second;
        }
      })
      .Case([&](tfm::EmbedOp e) {
        ok = ref::gatherRows(get(e.getTable()), get(e.getTokens()), result,
                             error);
      })
      .Case([&](tfm::LearnedPositionsOp lp) {
        const RefTensor &x = get(lp.getX()), &table = get(lp.getTable());
        if (x.dim(0) > table.dim(0)) {
          error = "sequence of " + std::to_string(x.dim(0)) +
                  " tokens exceeds the " + std::to_string(table.dim(0)) +
                  " learned positions";
          ok = false;
          return;
        }
        result = ref::binary(x, ref::slice(table, 0, 0, x.dim(0)),
                             ref::BinaryKind::Add);
      })
      .Case([&](tfm::SinusoidalPositionsOp sp) {
        const RefTensor &x = get(sp.getX());
        result = ref::binary(x, ref::sinusoidalTable(x.dim(0), x.dim(1)),
                             ref::BinaryKind::Add);
      })
      .Case([&](tfm::LayerNormOp ln) {
        result =
            ref::layerNorm(get(ln.getX()), get(ln.getGamma()),
                           &get(ln.getBeta()), ln.getEps().convertToDouble());
      })
      .Case([&](tfm::RMSNormOp rn) {
        result = ref::rmsNorm(get(rn.getX()), get(rn.getGamma()),
                              rn.getEps().convertToDouble());
      })
      .Case([&](tfm::AttentionOp a) {
        ok = !a.getKeyMask() || ref::checkKeyMask(get(a.getKeyMask()), error);
        if (ok)
          result = attention(a);
      })
      .Case([&](tfm::MLPOp m) { result = mlp(m); })
      .Case([&](tfm::LinearOp l) {
        result =
            ref::linear(get(l.getX()), get(l.getW()), getOptional(l.getBias()));
      })
      .Case([&](tfm::PatchEmbedOp pe) {
        RefTensor tokens =
            ref::linear(ref::patchify(get(pe.getImage()), pe.getPatch()),
                        get(pe.getW()), &get(pe.getB()));
        const RefTensor &cls = get(pe.getCls());
        result = ref::concat(ref::reshape(cls, {1, cls.dim(0)}), tokens, 0);
      })
      .Case([&](tfm::LMHeadOp head) {
        result =
            ref::matmul(get(head.getX()), get(head.getW()), head.getTied());
      })
      .Case([&](tfm::ClassifierHeadOp head) {
        const RefTensor &x = get(head.getX());
        RefTensor pooled = head.getPool() == tfm::Pool::cls
                               ? ref::slice(x, 0, 0, 1)
                               : ref::reduceMean(x, 0);
        result = ref::linear(pooled, get(head.getW()), &get(head.getB()));
      })
      // --- primitive ops ---
      .Case([&](tfm::AddOp o) {
        result =
            ref::binary(get(o.getLhs()), get(o.getRhs()), ref::BinaryKind::Add);
      })
      .Case([&](tfm::SubOp o) {
        result =
            ref::binary(get(o.getLhs()), get(o.getRhs()), ref::BinaryKind::Sub);
      })
      .Case([&](tfm::MulOp o) {
        result =
            ref::binary(get(o.getLhs()), get(o.getRhs()), ref::BinaryKind::Mul);
      })
      .Case([&](tfm::GatherOp g) {
        ok = ref::gatherRows(get(g.getTable()), get(g.getIds()), result, error);
      })
      .Case([&](tfm::ArangeOp a) {
        result = ref::arange(get(a.getLike()).dim(0), a.getOffset());
      })
      .Case([&](tfm::SinusoidalOp s) {
        const RefTensor &x = get(s.getLike());
        result = ref::sinusoidalTable(x.dim(0), x.dim(1));
      })
      .Case([&](tfm::MatmulOp m) {
        result = ref::matmul(get(m.getA()), get(m.getB()), m.getTransposeB());
      })
      .Case([&](tfm::ScaleOp s) {
        result = ref::scale(get(s.getX()), s.getFactor().convertToDouble());
      })
      .Case([&](tfm::ActivationOp a) {
        result = ref::activation(get(a.getX()), toKernel(a.getKind()));
      })
      .Case([&](tfm::NormalizeOp n) {
        result =
            ref::normalize(get(n.getX()), n.getKind() == tfm::NormKind::rms,
                           n.getEps().convertToDouble());
      })
      .Case([&](tfm::SoftmaxOp s) {
        result = ref::softmaxLastAxis(get(s.getX()));
      })
      .Case(
          [&](tfm::CausalMaskOp c) { result = ref::causalMask(get(c.getX())); })
      .Case([&](tfm::KeyMaskOp km) {
        ok = ref::checkKeyMask(get(km.getMask()), error);
        if (ok)
          result = ref::keyMask(get(km.getX()), get(km.getMask()));
      })
      .Case([&](tfm::RopeOp r) {
        const RefTensor &x = get(r.getX());
        result = ref::rope(x, x.dim(1), x.dim(2),
                           r.getTheta().convertToDouble(), r.getOffset());
      })
      .Case([&](tfm::ReshapeOp r) {
        const RefTensor &x = get(r.getX());
        auto type = cast<RankedTensorType>(r.getType());
        std::vector<int64_t> shape(type.getShape().begin(),
                                   type.getShape().end());
        int64_t known = 1, dynamicAt = -1;
        for (size_t i = 0; i < shape.size(); ++i) {
          if (ShapedType::isDynamic(shape[i]))
            dynamicAt = static_cast<int64_t>(i);
          else
            known *= shape[i];
        }
        if (dynamicAt >= 0)
          shape[dynamicAt] = known ? x.numel() / known : 0;
        if (RefTensor::count(shape) != x.numel()) {
          error = "reshape: " + std::to_string(x.numel()) +
                  " elements do not fill " + shapeString(shape);
          ok = false;
          return;
        }
        result = ref::reshape(x, shape);
      })
      .Case([&](tfm::TransposeOp t) {
        std::vector<int64_t> perm(t.getPerm().begin(), t.getPerm().end());
        result = ref::transpose(get(t.getX()), perm);
      })
      .Case([&](tfm::RepeatOp r) {
        result =
            ref::repeatInterleave(get(r.getX()), r.getAxis(), r.getTimes());
      })
      .Case([&](tfm::PatchifyOp p) {
        result = ref::patchify(get(p.getImage()), p.getPatch());
      })
      .Case([&](tfm::ConcatOp c) {
        result = ref::concat(get(c.getLhs()), get(c.getRhs()), c.getAxis());
      })
      .Case([&](tfm::ReduceMeanOp r) {
        result = ref::reduceMean(get(r.getX()), r.getAxis());
      })
      .Case([&](tfm::SliceOp s) {
        const RefTensor &x = get(s.getX());
        if (s.getStart() + s.getSize() > x.dim(s.getAxis())) {
          error = "slice: range [" + std::to_string(s.getStart()) + ", " +
                  std::to_string(s.getStart() + s.getSize()) +
                  ") exceeds extent " + std::to_string(x.dim(s.getAxis()));
          ok = false;
          return;
        }
        result = ref::slice(x, s.getAxis(), s.getStart(), s.getSize());
      })
      .Default([&](Operation *other) {
        error = "the reference interpreter cannot execute '" +
                other->getName().getStringRef().str() + "'";
        ok = false;
      });
  if (!ok)
    return false;
  if (!fits(result.shape, op->getResult(0).getType())) {
    std::string type;
    llvm::raw_string_ostream os(type);
    os << op->getResult(0).getType();
    error = "'" + op->getName().getStringRef().str() + "' produced shape " +
            shapeString(result.shape) + ", which does not fit " + type;
    return false;
  }
  values[op->getResult(0)] = std::move(result);
  return true;
}

bool Evaluator::run(func::FuncOp func, const std::vector<RefTensor> &inputs,
                    RefTensor &output, std::string &error) {
  Block &body = func.getBody().front();
  if (inputs.size() != body.getNumArguments()) {
    error = "expected " + std::to_string(body.getNumArguments()) +
            " inputs, found " + std::to_string(inputs.size());
    return false;
  }
  for (unsigned i = 0; i < body.getNumArguments(); ++i) {
    BlockArgument arg = body.getArgument(i);
    std::string name = "input " + std::to_string(i);
    if (auto attr = func.getArgAttrOfType<StringAttr>(i, "tfm.input"))
      name = attr.str();
    const RefTensor &in = inputs[i];
    if (!fits(in.shape, arg.getType())) {
      std::string type;
      llvm::raw_string_ostream os(type);
      os << arg.getType();
      error = name + ": expected " + type + ", found shape " +
              shapeString(in.shape);
      return false;
    }
    bool isTokens =
        cast<RankedTensorType>(arg.getType()).getElementType().isInteger(32);
    if (isTokens && in.dim(0) == 0) {
      error = name + ": expected at least one token, found none";
      return false;
    }
    if (isTokens && maxSeq > 0 && in.dim(0) > maxSeq) {
      error = name + ": " + std::to_string(in.dim(0)) +
              " tokens exceed the model's max_seq of " + std::to_string(maxSeq);
      return false;
    }
    values[arg] = in;
  }
  for (Operation &op : body) {
    if (!eval(&op, error))
      return false;
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      output = get(ret.getOperand(0));
      return true;
    }
  }
  error = "function @forward has no return";
  return false;
}

} // namespace

bool interpret(ModuleOp module, const std::map<std::string, RefTensor> &weights,
               const std::vector<RefTensor> &inputs, RefTensor &output,
               std::string &error) {
  auto func = module.lookupSymbol<func::FuncOp>("forward");
  if (!func) {
    error = "the module has no func.func @forward";
    return false;
  }
  int64_t maxSeq = 0;
  if (auto attr = module->getAttrOfType<IntegerAttr>("tfm.max_seq"))
    maxSeq = attr.getInt();
  Evaluator evaluator(weights, maxSeq);
  return evaluator.run(func, inputs, output, error);
}

} // namespace tfc
