//===- FuseKernels.cpp - Group primitive ops into fused kernels ----------===//
//
// The pass recognises, in the primitive IR that tfm-decompose produces, the
// groups listed in codegen/KernelDesc.h, and wraps each in a tfm.kernel:
//
//   gather [+ gather(types), add] [+ arange, gather, add | + sinusoidal,
//   add] [+ norm]                                                 -> embed
//   patchify + projection + bias + concat(class token) [+ positions]
//                                                                 -> patch
//   [norm] + slice(row 0) | reduce_mean + projection + bias [+ tanh],
//   returned                                            -> classify | pooler
//   [norm] + 3 projections [+ bias] + reshape [+ rope]            -> qkv
//   [norm] + the queries' projection of a cross-attention         -> cross_q
//   the keys and values projections of an encoder output (one
//   decoder layer's pair)                                        -> cross_kv
//   transpose/repeat + q k^T + scale [+ causal mask] [+ key mask] + softmax
//   + p v ...                                   -> attention | cross_attention
//   projection [+ bias] + residual add [+ norm]                   ->
//   proj_residual [norm] + projection [+ bias] + activation [* gate projection]
//   -> mlp_up [norm] + projection whose result the model returns            ->
//   head
//
// A norm is normalize -> mul(gamma) [-> add(beta)]. Matching starts at each
// op not yet grouped, in program order; every primitive op must end up in a
// group, or the pass fails and names the op.
//
//===----------------------------------------------------------------------===//
#include "dialect/TfmPasses.h"
#include "fusion/KernelAttr.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

#include <cmath>
#include <map>
#include <set>

namespace tfc::tfm {
#define GEN_PASS_DEF_TFMFUSE
#include "dialect/TfmPasses.h.inc"
} // namespace tfc::tfm

using namespace mlir;
using namespace tfc;
using namespace tfc::tfm;

namespace {

bool isWeight(Value v) { return v && v.getDefiningOp<WeightOp>(); }

int64_t extent(Value v, int64_t i) {
  return cast<RankedTensorType>(v.getType()).getDimSize(i);
}
int64_t rankOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getRank();
}

/// The only user of `v`, if it has exactly one use and it is an OpT.
template <typename OpT> OpT onlyUser(Value v) {
  if (!v || !v.hasOneUse())
    return nullptr;
  return dyn_cast<OpT>(*v.getUsers().begin());
}

struct Group {
  KernelDesc desc;
  llvm::SetVector<Operation *> ops;
  SmallVector<Value> inputs;  // kernel argument order (KernelDesc.h)
  SmallVector<Value> outputs; // kernel result order
  std::string label;
};

struct NormMatch {
  Value input, gamma, beta, output;
  KernelNorm kind = KernelNorm::None;
  double eps = 0;
  SmallVector<Operation *> ops;
};

/// Makes `m` part of g (a prologue or an epilogue): its kind and eps in the
/// descriptor, its ops in the group, gamma (and beta) as the next inputs.
void absorbNorm(Group &g, const NormMatch &m) {
  g.desc.norm = m.kind;
  g.desc.eps = m.eps;
  for (Operation *op : m.ops)
    g.ops.insert(op);
  g.inputs.push_back(m.gamma);
  if (m.beta)
    g.inputs.push_back(m.beta);
}

/// `v` = add(mul(normalize(x), gamma), beta) or mul(normalize(x), gamma).
std::optional<NormMatch> normProducing(Value v) {
  NormMatch m;
  m.output = v;
  Operation *def = v.getDefiningOp();
  MulOp mul;
  if (auto add = dyn_cast_or_null<AddOp>(def)) {
    if (!isWeight(add.getRhs()))
      return std::nullopt;
    m.beta = add.getRhs();
    mul = add.getLhs().getDefiningOp<MulOp>();
    if (!mul || !add.getLhs().hasOneUse())
      return std::nullopt;
    m.ops.push_back(add);
  } else {
    mul = dyn_cast_or_null<MulOp>(def);
  }
  if (!mul || !isWeight(mul.getRhs()))
    return std::nullopt;
  auto norm = mul.getLhs().getDefiningOp<NormalizeOp>();
  if (!norm || !mul.getLhs().hasOneUse())
    return std::nullopt;
  m.gamma = mul.getRhs();
  m.input = norm.getX();
  m.kind = norm.getKind() == tfm::NormKind::rms ? KernelNorm::RMS
                                                : KernelNorm::Layer;
  m.eps = norm.getEps().convertToDouble();
  if ((m.kind == KernelNorm::Layer) != bool(m.beta))
    return std::nullopt;
  m.ops.push_back(mul);
  m.ops.push_back(norm);
  return m;
}

/// The norm applied to `v`, when `v`'s only user starts one (post-norm).
std::optional<NormMatch> normConsuming(Value v) {
  auto norm = onlyUser<NormalizeOp>(v);
  if (!norm)
    return std::nullopt;
  auto mul = onlyUser<MulOp>(norm.getResult());
  if (!mul || !isWeight(mul.getRhs()))
    return std::nullopt;
  Value out = mul.getResult();
  if (auto add = onlyUser<AddOp>(out);
      add && isWeight(add.getRhs()) && add.getLhs() == out)
    out = add.getResult();
  return normProducing(out);
}

/// `v`'s only user adds a bias weight: the add.
AddOp biasOf(Value v) {
  auto add = onlyUser<AddOp>(v);
  if (add && add.getLhs() == v && isWeight(add.getRhs()) &&
      rankOf(add.getRhs()) == 1)
    return add;
  return nullptr;
}

bool isProjection(Operation *op) {
  auto mm = dyn_cast<MatmulOp>(op);
  return mm && rankOf(mm.getA()) == 2 && isWeight(mm.getB());
}

/// The [rows, heads, K] reshape a projection's result (through its bias)
/// goes to, as attention inputs are split into heads; null otherwise.
ReshapeOp headsReshape(MatmulOp p) {
  Value v = p.getResult();
  if (AddOp bias = biasOf(v))
    v = bias.getResult();
  auto reshape = onlyUser<ReshapeOp>(v);
  return reshape && rankOf(reshape.getResult()) == 3 ? reshape : nullptr;
}

/// The attention product that takes the heads `v` ([rows, heads, K],
/// through an optional rope, the transpose and an optional repeat) as its
/// right-hand operand: the scores (keys) or the value product (values).
MatmulOp rightOperandUse(Value v) {
  if (auto rope = onlyUser<RopeOp>(v))
    v = rope.getResult();
  auto t = onlyUser<TransposeOp>(v);
  if (!t)
    return nullptr;
  v = t.getResult();
  if (auto rep = onlyUser<RepeatOp>(v))
    v = rep.getResult();
  auto mm = onlyUser<MatmulOp>(v);
  return mm && mm.getB() == v ? mm : nullptr;
}

/// The value product p v that follows the scores product `scores`
/// (scale, masks, softmax).
MatmulOp valueProductOf(MatmulOp scores) {
  Value s = scores.getResult();
  while (s.hasOneUse() &&
         isa<ScaleOp, CausalMaskOp, KeyMaskOp>(*s.getUsers().begin()))
    s = s.getUsers().begin()->getResult(0);
  auto softmax = onlyUser<SoftmaxOp>(s);
  return softmax ? onlyUser<MatmulOp>(softmax.getResult()) : nullptr;
}

/// Whether `a` is an encoder output as a decoder sees it: every user is a
/// projection split into heads that only an attention's keys or values read
/// (cross-attention). Its projections form cross_kv kernels, so `a` itself
/// must be materialised (a norm producing it is an epilogue, not their
/// prologue).
bool feedsOnlyKeysAndValues(Value a) {
  if (!a || a.use_empty())
    return false;
  for (Operation *user : a.getUsers()) {
    if (!isProjection(user) || cast<MatmulOp>(user).getTransposeB())
      return false;
    ReshapeOp heads = headsReshape(cast<MatmulOp>(user));
    if (!heads || !rightOperandUse(heads.getResult()))
      return false;
  }
  return true;
}

/// The input of the projection that the heads `q` ([rows, heads, K], as an
/// attention core sees it) come from, or null.
Value projectedFrom(Value q) {
  if (auto rope = q.getDefiningOp<RopeOp>())
    q = rope.getX();
  auto reshape = q.getDefiningOp<ReshapeOp>();
  if (!reshape)
    return nullptr;
  Value v = reshape.getX();
  if (auto bias = v.getDefiningOp<AddOp>())
    v = bias.getLhs();
  auto mm = v.getDefiningOp<MatmulOp>();
  return mm ? mm.getA() : nullptr;
}

class Fuser {
public:
  explicit Fuser(func::FuncOp func) : func(func) {}
  LogicalResult run();

private:
  bool grouped(Operation *op) { return owner.count(op); }
  void add(Group g) {
    for (Operation *op : g.ops)
      owner[op] = groups.size();
    groups.push_back(std::move(g));
  }
  std::optional<Group> matchEmbed(GatherOp gather);
  std::optional<Group> matchProjections(MatmulOp anchor);
  std::optional<Group> matchAttention(MatmulOp scores);
  std::optional<Group> matchPatch(PatchifyOp patchify);
  std::optional<Group> matchClassify(Value x);
  bool returned(Value v) {
    for (Operation *user : v.getUsers())
      if (isa<func::ReturnOp>(user))
        return true;
    return false;
  }
  LogicalResult materialize();

  func::FuncOp func;
  std::vector<Group> groups;
  llvm::DenseMap<Operation *, size_t> owner;
};

/// The positions added to `rows` (learned: arange, gather, add;
/// sinusoidal: sinusoid, add), added to g; the sum, or `rows` when there are
/// none. Null when `rows` escapes the sum.
Value addPositions(Group &g, Value rows) {
  Value out = rows;
  for (Operation *user : rows.getUsers()) {
    if (auto ar = dyn_cast<ArangeOp>(user)) {
      auto pos = onlyUser<GatherOp>(ar.getResult());
      if (!pos || !isWeight(pos.getTable()) || ar.getOffset() != 0)
        continue;
      auto sum = onlyUser<AddOp>(pos.getResult());
      if (!sum || sum.getLhs() != rows)
        continue;
      g.desc.positions = PositionKind::Learned;
      g.desc.maxSeq = extent(pos.getTable(), 0);
      g.ops.insert(ar);
      g.ops.insert(pos);
      g.ops.insert(sum);
      g.inputs.push_back(pos.getTable());
      out = sum.getResult();
      break;
    }
    if (auto sin = dyn_cast<SinusoidalOp>(user)) {
      auto sum = onlyUser<AddOp>(sin.getResult());
      if (!sum || sum.getLhs() != rows)
        continue;
      g.desc.positions = PositionKind::Sinusoidal;
      g.ops.insert(sin);
      g.ops.insert(sum);
      out = sum.getResult();
      break;
    }
  }
  // The summed rows must not escape when positions were added.
  if (out != rows)
    for (Operation *user : rows.getUsers())
      if (!g.ops.contains(user))
        return nullptr;
  return out;
}

std::optional<Group> Fuser::matchEmbed(GatherOp gather) {
  if (!isWeight(gather.getTable()) || !isa<BlockArgument>(gather.getIds()))
    return std::nullopt;
  Group g;
  g.desc.kind = KernelKind::Embed;
  g.desc.vocab = extent(gather.getTable(), 0);
  g.desc.d = extent(gather.getTable(), 1);
  g.desc.positions = PositionKind::None;
  g.ops.insert(gather);
  g.inputs = {gather.getIds(), gather.getTable()};
  Value out = gather.getResult();
  // Token types (BERT segments): add(tokens' rows, gather(type table, ids)).
  if (auto sum = onlyUser<AddOp>(out)) {
    Value other = sum.getLhs() == out ? sum.getRhs() : sum.getLhs();
    auto types = other.getDefiningOp<GatherOp>();
    if (types && other.hasOneUse() && isWeight(types.getTable()) &&
        isa<BlockArgument>(types.getIds()) &&
        types.getIds() != gather.getIds()) {
      g.desc.typeVocab = extent(types.getTable(), 0);
      g.ops.insert(types);
      g.ops.insert(sum);
      g.inputs.push_back(types.getIds());
      g.inputs.push_back(types.getTable());
      out = sum.getResult();
    }
  }
  out = addPositions(g, out);
  if (!out)
    return std::nullopt;
  // The embedding LayerNorm (BERT) is the kernel's epilogue.
  if (auto post = normConsuming(out)) {
    absorbNorm(g, *post);
    out = post->output;
  }
  g.outputs = {out};
  g.label = "embed";
  return g;
}

std::optional<Group> Fuser::matchProjections(MatmulOp anchor) {
  Value a = anchor.getA();
  std::optional<NormMatch> norm = normProducing(a);
  // A norm already grouped (a post-norm epilogue) is just an input here.
  if (norm &&
      llvm::any_of(norm->ops, [&](Operation *op) { return grouped(op); }))
    norm.reset();
  SmallVector<MatmulOp> projs;
  for (Operation *user : a.getUsers()) {
    if (isProjection(user) && !grouped(user))
      projs.push_back(cast<MatmulOp>(user));
    else if (norm)
      return std::nullopt; // a normalised value feeds only projections
  }
  llvm::sort(projs,
             [](MatmulOp x, MatmulOp y) { return x->isBeforeInBlock(y); });
  Group g;
  KernelDesc &d = g.desc;
  auto addNorm = [&] {
    if (norm)
      absorbNorm(g, *norm);
  };
  Value x = norm ? norm->input : a;

  // Head: one projection whose result the model returns.
  if (projs.size() == 1 && returned(projs[0].getResult())) {
    MatmulOp p = projs[0];
    d.kind = KernelKind::Head;
    d.d = extent(a, 1);
    d.tied = p.getTransposeB();
    d.vocab = extent(p.getResult(), 1);
    g.inputs.push_back(x);
    addNorm();
    g.inputs.push_back(p.getB());
    g.ops.insert(p);
    g.outputs = {p.getResult()};
    g.label = "head";
    return g;
  }
  for (MatmulOp p : projs)
    if (p.getTransposeB())
      return std::nullopt;

  // QKV: projections, each [+ bias] -> reshape [N, heads, K] [-> rope]:
  // q, k and v (self-attention), q alone or k and v alone (cross-attention).
  auto heads = [&](SmallVector<MatmulOp> ps, QKVParts parts,
                   const char *label) -> std::optional<Group> {
    d.kind = KernelKind::QKV;
    d.parts = parts;
    d.d = extent(a, 1);
    g.inputs.push_back(x);
    addNorm();
    SmallVector<Value> biases;
    for (auto [i, p] : llvm::enumerate(ps)) {
      // The role of this projection: 0 = q, 1 = k, 2 = v.
      size_t role = parts == QKVParts::KV ? i + 1 : i;
      g.ops.insert(p);
      g.inputs.push_back(p.getB());
      Value v = p.getResult();
      if (AddOp bias = biasOf(v)) {
        g.ops.insert(bias);
        biases.push_back(bias.getRhs());
        v = bias.getResult();
      }
      auto reshape = onlyUser<ReshapeOp>(v);
      if (!reshape || rankOf(reshape.getResult()) != 3)
        return std::nullopt;
      g.ops.insert(reshape);
      v = reshape.getResult();
      int64_t h = extent(v, 1), k = extent(v, 2);
      if (i == 0) {
        d.heads = d.kvHeads = h;
        d.headDim = k;
      } else {
        if (k != d.headDim || (role == 2 && h != d.kvHeads))
          return std::nullopt;
        d.kvHeads = h;
      }
      if (auto rope = onlyUser<RopeOp>(v); rope && role < 2) {
        if (rope.getOffset() != 0 || (i > 0 && !d.rope))
          return std::nullopt;
        g.ops.insert(rope);
        d.rope = true;
        d.ropeTheta = rope.getTheta().convertToDouble();
        v = rope.getResult();
      } else if (role == 1 && d.rope) {
        return std::nullopt; // q rotated, k not
      }
      g.outputs.push_back(v);
    }
    if (!biases.empty() && biases.size() != ps.size())
      return std::nullopt;
    d.bias = !biases.empty();
    g.inputs.append(biases.begin(), biases.end());
    g.label = label;
    return g;
  };
  // The encoder output's keys and values, one decoder layer's pair per
  // kernel (computed once per source).
  if (feedsOnlyKeysAndValues(a)) {
    if (norm)
      return std::nullopt; // an epilogue of the kernel that produces `a`
    MatmulOp k, v;
    for (MatmulOp p : projs) {
      MatmulOp use = rightOperandUse(headsReshape(p).getResult());
      if (use.getTransposeB() && !k)
        k = p;
    }
    if (!k)
      return std::nullopt;
    MatmulOp pv = valueProductOf(rightOperandUse(headsReshape(k).getResult()));
    for (MatmulOp p : projs)
      if (pv && rightOperandUse(headsReshape(p).getResult()) == pv)
        v = p;
    if (!v)
      return std::nullopt;
    return heads({k, v}, QKVParts::KV, "cross_kv");
  }
  if (projs.size() == 3)
    return heads(projs, QKVParts::QKV, "qkv");
  // A cross-attention's queries: one projection split into heads.
  if (projs.size() == 1 && headsReshape(projs[0]))
    return heads(projs, QKVParts::Q, "cross_q");

  // MLPUp: w1 [+ b1] -> activation [* (w3 [+ b3])].
  auto upThroughBias = [&](MatmulOp p, Value &bias) -> Value {
    Value v = p.getResult();
    if (AddOp b = biasOf(v)) {
      bias = b.getRhs();
      return b.getResult();
    }
    return v;
  };
  if (projs.size() == 1 || projs.size() == 2) {
    for (MatmulOp first : projs) {
      Value b1;
      Value h = upThroughBias(first, b1);
      auto act = onlyUser<ActivationOp>(h);
      if (!act || act.getKind() == tfm::Activation::tanh)
        continue; // (no MLP kernel applies tanh)
      d.kind = KernelKind::MLPUp;
      d.d = extent(a, 1);
      d.dFF = extent(first.getResult(), 1);
      d.activation =
          act.getKind() == tfm::Activation::relu   ? tfc::Activation::ReLU
          : act.getKind() == tfm::Activation::gelu ? tfc::Activation::GELU
          : act.getKind() == tfm::Activation::gelu_tanh
              ? tfc::Activation::GELUTanh
              : tfc::Activation::SiLU;
      g.inputs.push_back(x);
      addNorm();
      g.ops.insert(first);
      if (b1)
        g.ops.insert(h.getDefiningOp());
      g.ops.insert(act);
      g.inputs.push_back(first.getB());
      if (b1)
        g.inputs.push_back(b1);
      Value out = act.getResult();
      if (projs.size() == 2) {
        MatmulOp gate = projs[0] == first ? projs[1] : projs[0];
        Value b3;
        Value gv = upThroughBias(gate, b3);
        auto mul = onlyUser<MulOp>(out);
        if (!mul || mul.getRhs() != gv || bool(b1) != bool(b3))
          return std::nullopt;
        g.ops.insert(gate);
        if (b3)
          g.ops.insert(gv.getDefiningOp());
        g.ops.insert(mul);
        g.inputs.push_back(gate.getB());
        if (b3)
          g.inputs.push_back(b3);
        d.gated = true;
        out = mul.getResult();
      }
      d.bias = bool(b1);
      g.outputs = {out};
      g.label = "mlp_up";
      return g;
    }
  }

  // ProjResidual: w [+ b] -> add(residual, .) [-> norm].
  if (projs.size() == 1 && !norm) {
    MatmulOp p = projs[0];
    d.kind = KernelKind::ProjResidual;
    d.in = extent(a, 1);
    d.d = extent(p.getResult(), 1);
    g.ops.insert(p);
    g.inputs = {a, p.getB()};
    Value v = p.getResult();
    if (AddOp bias = biasOf(v)) {
      g.ops.insert(bias);
      g.inputs.push_back(bias.getRhs());
      d.bias = true;
      v = bias.getResult();
    }
    auto res = onlyUser<AddOp>(v);
    if (!res)
      return std::nullopt;
    Value residual = res.getLhs() == v ? res.getRhs() : res.getLhs();
    if (cast<RankedTensorType>(residual.getType()).getShape() !=
        cast<RankedTensorType>(v.getType()).getShape())
      return std::nullopt;
    g.ops.insert(res);
    g.inputs.push_back(residual);
    Value out = res.getResult();
    // A norm whose result feeds only projections is their prologue (a
    // pre-norm block, or the final norm before the head); otherwise it is
    // this kernel's epilogue (a post-norm block).
    // (or a classifier's final norm, which pools first). The norm of an
    // encoder output stays an epilogue: its projections are cross_kv
    // kernels, one per decoder layer, which read it materialised.
    auto post = normConsuming(out);
    if (post && !feedsOnlyKeysAndValues(post->output) &&
        llvm::all_of(post->output.getUsers(), [](Operation *u) {
          return isProjection(u) || isa<SliceOp, ReduceMeanOp>(u);
        }))
      post.reset();
    if (post) {
      absorbNorm(g, *post);
      out = post->output;
    }
    g.outputs = {out};
    g.label = "proj_residual";
    return g;
  }
  return std::nullopt;
}

/// Follows `v` back through an optional repeat and a transpose to the
/// [N, heads, K] tensor it came from.
Value headsSource(Value v, SmallVectorImpl<Operation *> &ops) {
  if (auto rep = v.getDefiningOp<RepeatOp>()) {
    if (!v.hasOneUse())
      return nullptr;
    ops.push_back(rep);
    v = rep.getX();
  }
  auto t = v.getDefiningOp<TransposeOp>();
  if (!t || !v.hasOneUse() || t.getPerm() != ArrayRef<int64_t>{1, 0, 2})
    return nullptr;
  ops.push_back(t);
  return t.getX();
}

std::optional<Group> Fuser::matchAttention(MatmulOp scores) {
  if (rankOf(scores.getA()) != 3 || !scores.getTransposeB())
    return std::nullopt;
  SmallVector<Operation *> ops;
  Value q = headsSource(scores.getA(), ops);
  Value k = headsSource(scores.getB(), ops);
  if (!q || !k)
    return std::nullopt;
  ops.push_back(scores);
  auto scale = onlyUser<ScaleOp>(scores.getResult());
  if (!scale)
    return std::nullopt;
  ops.push_back(scale);
  Value s = scale.getResult();
  bool causal = false;
  if (auto mask = onlyUser<CausalMaskOp>(s)) {
    ops.push_back(mask);
    s = mask.getResult();
    causal = true;
  }
  Value keyMask;
  if (auto mask = onlyUser<KeyMaskOp>(s); mask && mask.getX() == s) {
    if (!isa<BlockArgument>(mask.getMask()))
      return std::nullopt;
    ops.push_back(mask);
    s = mask.getResult();
    keyMask = mask.getMask();
  }
  auto softmax = onlyUser<SoftmaxOp>(s);
  if (!softmax)
    return std::nullopt;
  ops.push_back(softmax);
  auto pv = onlyUser<MatmulOp>(softmax.getResult());
  if (!pv || pv.getTransposeB() || pv.getA() != softmax.getResult())
    return std::nullopt;
  Value v = headsSource(pv.getB(), ops);
  if (!v)
    return std::nullopt;
  ops.push_back(pv);
  auto back = onlyUser<TransposeOp>(pv.getResult());
  if (!back || back.getPerm() != ArrayRef<int64_t>{1, 0, 2})
    return std::nullopt;
  ops.push_back(back);
  auto flat = onlyUser<ReshapeOp>(back.getResult());
  if (!flat || rankOf(flat.getResult()) != 2)
    return std::nullopt;
  ops.push_back(flat);
  double want = 1.0 / std::sqrt(double(extent(q, 2)));
  if (std::fabs(scale.getFactor().convertToDouble() - want) > 1e-12 * want)
    return std::nullopt;
  Group g;
  g.desc.kind = KernelKind::Attention;
  g.desc.heads = extent(q, 1);
  g.desc.kvHeads = extent(k, 1);
  g.desc.headDim = extent(q, 2);
  g.desc.causal = causal;
  g.desc.keyMask = bool(keyMask);
  for (Operation *op : ops)
    g.ops.insert(op);
  g.inputs = {q, k, v};
  if (keyMask)
    g.inputs.push_back(keyMask);
  g.outputs = {flat.getResult()};
  // Keys from another sequence than the queries: cross-attention (the same
  // kernel; the plan gives it the source's cached keys and values).
  Value qFrom = projectedFrom(q), kFrom = projectedFrom(k);
  g.label = qFrom && kFrom && qFrom != kFrom ? "cross_attention" : "attention";
  return g;
}

/// patchify(image) w + b, the class token prepended, [+ positions].
std::optional<Group> Fuser::matchPatch(PatchifyOp patchify) {
  Value image = patchify.getImage();
  if (!isa<BlockArgument>(image) || rankOf(image) != 3)
    return std::nullopt;
  auto mm = onlyUser<MatmulOp>(patchify.getResult());
  if (!mm || !isWeight(mm.getB()) || mm.getTransposeB())
    return std::nullopt;
  AddOp bias = biasOf(mm.getResult());
  if (!bias)
    return std::nullopt;
  auto cat = onlyUser<ConcatOp>(bias.getResult());
  if (!cat || cat.getAxis() != 0 || cat.getRhs() != bias.getResult())
    return std::nullopt;
  auto clsRow = cat.getLhs().getDefiningOp<ReshapeOp>();
  if (!clsRow || !isWeight(clsRow.getX()) || !cat.getLhs().hasOneUse())
    return std::nullopt;
  Group g;
  KernelDesc &d = g.desc;
  d.kind = KernelKind::Patch;
  d.imageH = extent(image, 0);
  d.imageW = extent(image, 1);
  d.imageC = extent(image, 2);
  d.patch = patchify.getPatch();
  d.d = extent(mm.getB(), 1);
  d.maxSeq = extent(cat.getResult(), 0);
  d.positions = PositionKind::None;
  for (Operation *op : {patchify.getOperation(), mm.getOperation(),
                        bias.getOperation(), clsRow.getOperation(),
                        cat.getOperation()})
    g.ops.insert(op);
  g.inputs = {image, mm.getB(), bias.getRhs(), clsRow.getX()};
  Value out = addPositions(g, cat.getResult());
  if (!out)
    return std::nullopt;
  g.outputs = {out};
  g.label = "patch";
  return g;
}

/// [norm] + slice of row 0 or mean of the rows + w + b, returned.
std::optional<Group> Fuser::matchClassify(Value x) {
  std::optional<NormMatch> norm = normProducing(x);
  Value in = x;
  Group g;
  KernelDesc &d = g.desc;
  d.kind = KernelKind::Classify;
  if (norm)
    in = norm->input;
  Operation *pool = x.hasOneUse() ? *x.getUsers().begin() : nullptr;
  auto slice = dyn_cast_or_null<SliceOp>(pool);
  auto mean = dyn_cast_or_null<ReduceMeanOp>(pool);
  if (slice && (slice.getAxis() != 0 || slice.getStart() != 0 ||
                slice.getSize() != 1))
    return std::nullopt;
  if (mean && mean.getAxis() != 0)
    return std::nullopt;
  if (!slice && !mean)
    return std::nullopt;
  Value pooled = pool->getResult(0);
  auto mm = onlyUser<MatmulOp>(pooled);
  if (!mm || !isWeight(mm.getB()) || mm.getTransposeB())
    return std::nullopt;
  AddOp bias = biasOf(mm.getResult());
  if (!bias)
    return std::nullopt;
  Value out = bias.getResult();
  // BERT's pooler ends in tanh.
  auto tanh = onlyUser<ActivationOp>(out);
  if (tanh && tanh.getKind() == tfm::Activation::tanh) {
    d.tanhOut = true;
    g.ops.insert(tanh);
    out = tanh.getResult();
  }
  if (!returned(out))
    return std::nullopt;
  d.d = extent(mm.getB(), 0);
  d.classes = extent(mm.getB(), 1);
  d.meanPool = bool(mean);
  g.inputs.push_back(in);
  if (norm)
    absorbNorm(g, *norm);
  for (Operation *op : {pool, mm.getOperation(), bias.getOperation()})
    g.ops.insert(op);
  g.inputs.push_back(mm.getB());
  g.inputs.push_back(bias.getRhs());
  g.outputs = {out};
  g.label = d.tanhOut ? "pooler" : "classify";
  return g;
}

LogicalResult Fuser::run() {
  Block &body = func.getBody().front();
  for (Operation &op : body) {
    if (grouped(&op) || isa<WeightOp, func::ReturnOp>(op))
      continue;
    std::optional<Group> g;
    if (auto gather = dyn_cast<GatherOp>(op))
      g = matchEmbed(gather);
    else if (auto patchify = dyn_cast<PatchifyOp>(op))
      g = matchPatch(patchify);
    else if (isa<SliceOp, ReduceMeanOp>(op))
      g = matchClassify(op.getOperand(0));
    else if (auto mm = dyn_cast<MatmulOp>(op))
      g = isProjection(mm) ? matchProjections(mm) : matchAttention(mm);
    else if (auto norm = dyn_cast<NormalizeOp>(op)) {
      // A prologue norm: start from the first projection it feeds.
      Value out = norm.getResult();
      if (auto mul = onlyUser<MulOp>(out)) {
        out = mul.getResult();
        if (auto add = onlyUser<AddOp>(out); add && isWeight(add.getRhs()))
          out = add.getResult();
      }
      for (Operation *user : out.getUsers())
        if (isProjection(user)) {
          g = matchProjections(cast<MatmulOp>(user));
          break;
        }
      // The final norm of a classifier.
      if (!g && out.hasOneUse() &&
          isa<SliceOp, ReduceMeanOp>(*out.getUsers().begin()))
        g = matchClassify(out);
    } else if (auto t = dyn_cast<TransposeOp>(op)) {
      // The first op of an attention core; find its scores product.
      Operation *user = t->hasOneUse() ? *t->getUsers().begin() : nullptr;
      if (user && isa<RepeatOp>(user) && user->hasOneUse())
        user = *user->getUsers().begin();
      if (auto mm = dyn_cast_or_null<MatmulOp>(user); mm && mm.getTransposeB())
        g = matchAttention(mm);
      else if (mm)
        continue; // the value side: grouped with its scores product
    }
    if (!g)
      continue;
    for (Operation *member : g->ops)
      if (grouped(member))
        return member->emitError("tfm-fuse: op claimed by two kernels (")
               << groups[owner[member]].label << " and " << g->label << ")";
    add(std::move(*g));
  }
  for (Operation &op : body)
    if (!grouped(&op) && !isa<WeightOp, func::ReturnOp>(op)) {
      std::string text;
      llvm::raw_string_ostream os(text);
      op.print(os, OpPrintingFlags().skipRegions());
      if (text.size() > 160)
        text = text.substr(0, 157) + "...";
      return op.emitError() << "tfm-fuse: no kernel template covers '"
                            << op.getName() << "' in: " << text
                            << " (no fused kernel computes it)";
    }
  return materialize();
}

LogicalResult Fuser::materialize() {
  MLIRContext *ctx = func.getContext();
  std::map<std::string, int> layerOf;
  // An encoder-decoder's labels say the stack: "encoder." for what depends
  // on the source alone, "decoder." for the rest and for the decoder
  // layers' cross_kv (which read the source, but belong to those layers).
  bool twoStacks = false;
  llvm::DenseSet<Value> fromTarget;
  for (BlockArgument arg : func.getArguments())
    if (auto name = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                      "tfm.input");
        name && name.getValue() == "target") {
      twoStacks = true;
      fromTarget.insert(arg);
    }
  // (Decided before any group is replaced by its kernel: on the original
  // values, in program order.)
  std::vector<std::string> stack(groups.size());
  for (size_t i = 0; twoStacks && i < groups.size(); ++i) {
    const Group &g = groups[i];
    bool target = g.label == "cross_kv";
    for (Operation *op : g.ops)
      for (Value in : op->getOperands())
        target = target || fromTarget.count(in);
    if (target)
      for (Operation *op : g.ops)
        for (Value r : op->getResults())
          fromTarget.insert(r);
    stack[i] = target ? "decoder." : "encoder.";
  }
  // Outputs of groups already replaced by kernel results.
  llvm::DenseMap<Value, Value> replaced;
  for (auto [gi, g] : llvm::enumerate(groups)) {
    for (Value &in : g.inputs)
      if (Value r = replaced.lookup(in))
        in = r;
    // Insert at the last member: every input is defined before it.
    Operation *last = g.ops.front();
    for (Operation *op : g.ops)
      if (last->isBeforeInBlock(op))
        last = op;
    OpBuilder b(last);
    SmallVector<Type> resultTypes;
    for (Value v : g.outputs)
      resultTypes.push_back(v.getType());
    std::string symbol = g.desc.symbol();
    auto kernel = KernelOp::create(b, last->getLoc(), resultTypes, g.inputs,
                                   FlatSymbolRefAttr::get(ctx, symbol),
                                   b.getStringAttr(toString(g.desc.kind)),
                                   kernelDescAttr(ctx, g.desc));
    std::string label = stack[gi] + g.label;
    kernel->setAttr("label", b.getStringAttr(
                                 label + "." + std::to_string(layerOf[label]++)));
    Block *block = new Block();
    kernel.getBody().push_back(block);
    IRMapping map;
    for (Value in : g.inputs)
      map.map(in, block->addArgument(in.getType(), in.getLoc()));
    OpBuilder inner = OpBuilder::atBlockEnd(block);
    SmallVector<Operation *> ordered(g.ops.begin(), g.ops.end());
    llvm::sort(ordered, [](Operation *x, Operation *y) {
      return x->isBeforeInBlock(y);
    });
    for (Operation *op : ordered)
      inner.clone(*op, map);
    SmallVector<Value> yielded;
    for (Value v : g.outputs)
      yielded.push_back(map.lookup(v));
    YieldOp::create(inner, last->getLoc(), yielded);
    for (auto [out, res] : llvm::zip(g.outputs, kernel.getResults())) {
      out.replaceUsesWithIf(
          res, [&](OpOperand &use) { return !g.ops.contains(use.getOwner()); });
      replaced[out] = res;
    }
    for (Operation *op : llvm::reverse(ordered)) {
      if (!op->use_empty())
        return op->emitError("tfm-fuse: a value inside a kernel escapes it");
      op->erase();
    }
  }
  return success();
}

struct TfmFusePass : public tfc::tfm::impl::TfmFuseBase<TfmFusePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    int64_t calls = 0;
    std::set<std::string> symbols;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      if (failed(Fuser(func).run()))
        return signalPassFailure();
      func.walk([&](KernelOp k) {
        ++calls;
        symbols.insert(k.getSymbol().str());
      });
    }
    Builder b(module.getContext());
    module->setAttr("tfm.kernel_count",
                    b.getI64IntegerAttr(static_cast<int64_t>(symbols.size())));
    module->setAttr("tfm.kernel_calls", b.getI64IntegerAttr(calls));
  }
};

} // namespace
