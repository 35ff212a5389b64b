//===- Decompose.cpp - Model-level tfm ops to primitive tfm ops ----------===//
//
// Each model-level op is replaced by the primitive ops that compute it.
// The attention core comes out as the chain
//   reshape -> [rope] -> transpose -> [repeat] -> matmul(transpose_b)
//   -> scale -> [causal_mask] -> softmax -> matmul -> transpose -> reshape
// which the fusion pass recognises as one flash-attention kernel.
//
//===----------------------------------------------------------------------===//
#include "dialect/TfmPasses.h"

#include "mlir/IR/Builders.h"

#include <cmath>

namespace tfc::tfm {
#define GEN_PASS_DEF_TFMDECOMPOSE
#include "dialect/TfmPasses.h.inc"
} // namespace tfc::tfm

using namespace mlir;
using namespace tfc::tfm;

namespace {

constexpr int64_t kDyn = ShapedType::kDynamic;

/// Builds primitive ops at one insertion point, with f32-like element type
/// taken from the op being replaced.
class PrimitiveBuilder {
public:
  PrimitiveBuilder(Operation *op)
      : b(op), loc(op->getLoc()),
        elem(cast<RankedTensorType>(op->getResult(0).getType())
                 .getElementType()) {}

  RankedTensorType type(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, elem);
  }
  static ArrayRef<int64_t> shape(Value v) {
    return cast<RankedTensorType>(v.getType()).getShape();
  }
  static int64_t dim(Value v, int64_t i) { return shape(v)[i]; }

  /// x [.., in] · w [in, out] (+ bias [out]).
  Value linear(Value x, Value w, Value bias) {
    SmallVector<int64_t> out(shape(x));
    out.back() = dim(w, 1);
    Value y = MatmulOp::create(b, loc, type(out), x, w, /*transpose_b=*/false);
    return bias ? add(y, bias) : y;
  }
  Value add(Value x, Value y) {
    return AddOp::create(b, loc, x.getType(), x, y);
  }
  Value mul(Value x, Value y) {
    return MulOp::create(b, loc, x.getType(), x, y);
  }
  Value reshape(Value x, ArrayRef<int64_t> s) {
    return ReshapeOp::create(b, loc, type(s), x);
  }
  Value transpose(Value x, ArrayRef<int64_t> perm) {
    SmallVector<int64_t> out;
    for (int64_t p : perm)
      out.push_back(dim(x, p));
    return TransposeOp::create(b, loc, type(out), x,
                               b.getDenseI64ArrayAttr(perm));
  }
  Value norm(NormKind kind, Value x, Value gamma, Value beta, double eps) {
    Value n = NormalizeOp::create(b, loc, x.getType(),
                                  NormKindAttr::get(b.getContext(), kind), x,
                                  b.getF64FloatAttr(eps));
    n = mul(n, gamma);
    return beta ? add(n, beta) : n;
  }

  OpBuilder b;
  Location loc;
  Type elem;
};

Value decompose(AttentionOp op) {
  PrimitiveBuilder p(op);
  int64_t h = op.getHeads(), hkv = op.getKvHeads(), k = op.getHeadDim();
  auto biases = op.getBiases();
  auto bias = [&](int i) -> Value {
    return biases.empty() ? Value() : biases[i];
  };
  Value x = op.getX();
  Value src = op.getMemory() ? op.getMemory() : x;
  int64_t n = p.dim(x, 0), m = p.dim(src, 0);

  Value q = p.linear(x, op.getWq(), bias(0));
  Value kk = p.linear(src, op.getWk(), bias(1));
  Value v = p.linear(src, op.getWv(), bias(2));
  q = p.reshape(q, {n, h, k});
  kk = p.reshape(kk, {m, hkv, k});
  v = p.reshape(v, {m, hkv, k});
  if (auto theta = op.getRopeTheta()) {
    auto thetaAttr = p.b.getF64FloatAttr(theta->convertToDouble());
    q = RopeOp::create(p.b, p.loc, q.getType(), q, thetaAttr,
                       p.b.getI64IntegerAttr(0));
    kk = RopeOp::create(p.b, p.loc, kk.getType(), kk, thetaAttr,
                        p.b.getI64IntegerAttr(0));
  }
  q = p.transpose(q, {1, 0, 2});   // [H, N, K]
  kk = p.transpose(kk, {1, 0, 2}); // [Hkv, M, K]
  v = p.transpose(v, {1, 0, 2});
  if (hkv != h) {
    auto rep = [&](Value t) -> Value {
      return RepeatOp::create(p.b, p.loc, p.type({h, m, k}), t,
                              p.b.getI64IntegerAttr(0),
                              p.b.getI64IntegerAttr(h / hkv));
    };
    kk = rep(kk);
    v = rep(v);
  }
  Value s = MatmulOp::create(p.b, p.loc, p.type({h, n, m}), q, kk,
                             /*transpose_b=*/true);
  s = ScaleOp::create(p.b, p.loc, s.getType(), s,
                      p.b.getF64FloatAttr(1.0 / std::sqrt(double(k))));
  if (op.getCausal())
    s = CausalMaskOp::create(p.b, p.loc, s.getType(), s);
  if (Value mask = op.getKeyMask())
    s = KeyMaskOp::create(p.b, p.loc, s.getType(), s, mask);
  s = SoftmaxOp::create(p.b, p.loc, s.getType(), s);
  Value o = MatmulOp::create(p.b, p.loc, p.type({h, n, k}), s, v,
                             /*transpose_b=*/false);
  o = p.transpose(o, {1, 0, 2});
  o = p.reshape(o, {n, h * k});
  return p.linear(o, op.getWo(), bias(3));
}

Value decompose(MLPOp op) {
  PrimitiveBuilder p(op);
  auto biases = op.getBiases();
  auto bias = [&](int i) -> Value {
    return biases.empty() ? Value() : biases[i];
  };
  Value hidden = p.linear(op.getX(), op.getW1(), bias(0));
  hidden = ActivationOp::create(p.b, p.loc, hidden.getType(),
                                op.getActivation(), hidden);
  if (op.getW3())
    hidden = p.mul(hidden, p.linear(op.getX(), op.getW3(), bias(2)));
  return p.linear(hidden, op.getW2(), bias(1));
}

Value decompose(PatchEmbedOp op) {
  PrimitiveBuilder p(op);
  Value image = op.getImage();
  int64_t patch = op.getPatch();
  int64_t count = (p.dim(image, 0) / patch) * (p.dim(image, 1) / patch);
  int64_t d = p.dim(op.getW(), 1);
  Value patches =
      PatchifyOp::create(p.b, p.loc, p.type({count, p.dim(op.getW(), 0)}),
                         image, p.b.getI64IntegerAttr(patch));
  Value tokens = p.linear(patches, op.getW(), op.getB());
  Value cls = p.reshape(op.getCls(), {1, d});
  return ConcatOp::create(p.b, p.loc, op.getType(), cls, tokens,
                          p.b.getI64IntegerAttr(0));
}

Value decompose(ClassifierHeadOp op) {
  PrimitiveBuilder p(op);
  int64_t d = p.dim(op.getX(), 1);
  auto zero = p.b.getI64IntegerAttr(0);
  Value pooled =
      op.getPool() == Pool::cls
          ? Value(SliceOp::create(p.b, p.loc, p.type({1, d}), op.getX(), zero,
                                  zero, p.b.getI64IntegerAttr(1)))
          : Value(ReduceMeanOp::create(p.b, p.loc, p.type({1, d}), op.getX(),
                                       zero));
  return p.linear(pooled, op.getW(), op.getB());
}

/// The primitive value replacing `op`, or null for primitive ops.
Value decompose(Operation *op) {
  if (auto a = dyn_cast<AttentionOp>(op))
    return decompose(a);
  if (auto m = dyn_cast<MLPOp>(op))
    return decompose(m);
  if (auto pe = dyn_cast<PatchEmbedOp>(op))
    return decompose(pe);
  if (auto c = dyn_cast<ClassifierHeadOp>(op))
    return decompose(c);
  PrimitiveBuilder p(op);
  if (auto e = dyn_cast<EmbedOp>(op))
    return GatherOp::create(p.b, p.loc, e.getType(), e.getTable(),
                            e.getTokens());
  if (auto lp = dyn_cast<LearnedPositionsOp>(op)) {
    auto idsType =
        RankedTensorType::get({p.dim(lp.getX(), 0)}, p.b.getI32Type());
    Value ids = ArangeOp::create(p.b, p.loc, idsType, lp.getX(),
                                 p.b.getI64IntegerAttr(0));
    Value pos = GatherOp::create(p.b, p.loc, lp.getType(), lp.getTable(), ids);
    return p.add(lp.getX(), pos);
  }
  if (auto sp = dyn_cast<SinusoidalPositionsOp>(op))
    return p.add(sp.getX(),
                 SinusoidalOp::create(p.b, p.loc, sp.getType(), sp.getX()));
  if (auto ln = dyn_cast<LayerNormOp>(op))
    return p.norm(NormKind::layer, ln.getX(), ln.getGamma(), ln.getBeta(),
                  ln.getEps().convertToDouble());
  if (auto rn = dyn_cast<RMSNormOp>(op))
    return p.norm(NormKind::rms, rn.getX(), rn.getGamma(), Value(),
                  rn.getEps().convertToDouble());
  if (auto l = dyn_cast<LinearOp>(op))
    return p.linear(l.getX(), l.getW(), l.getBias());
  if (auto head = dyn_cast<LMHeadOp>(op))
    return MatmulOp::create(p.b, p.loc, head.getType(), head.getX(),
                            head.getW(), head.getTied());
  return Value();
}

struct TfmDecomposePass
    : public tfc::tfm::impl::TfmDecomposeBase<TfmDecomposePass> {
  void runOnOperation() override {
    SmallVector<Operation *> modelOps;
    getOperation().walk([&](Operation *op) {
      if (isa<AttentionOp, MLPOp, PatchEmbedOp, ClassifierHeadOp, EmbedOp,
              LearnedPositionsOp, SinusoidalPositionsOp, LayerNormOp, RMSNormOp,
              LinearOp, LMHeadOp>(op))
        modelOps.push_back(op);
    });
    for (Operation *op : modelOps) {
      Value replacement = decompose(op);
      op->getResult(0).replaceAllUsesWith(replacement);
      op->erase();
    }
  }
};

} // namespace
