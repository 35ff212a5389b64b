//===- TfmVerifiers.cpp - Shape checks of the tfm ops -------------------===//
//
// Each verifier says which operand is wrong, what shape it expected and
// what it found. Dynamic extents ('?') match any extent.
//
//===----------------------------------------------------------------------===//
#include "dialect/TfmDialect.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

using namespace mlir;
using namespace tfc::tfm;

namespace {

constexpr int64_t kAny = ShapedType::kDynamic;

RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "[";
  llvm::interleaveComma(shape, os, [&](int64_t d) {
    if (ShapedType::isDynamic(d))
      os << "?";
    else
      os << d;
  });
  os << "]";
  return s;
}

bool extentsMatch(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// Checks `v` against `expected` (kAny matches anything); reports
/// "<what>: expected shape [..], found [..]".
LogicalResult expectShape(Operation *op, StringRef what, Value v,
                          ArrayRef<int64_t> expected) {
  ArrayRef<int64_t> found = tensorType(v).getShape();
  bool ok = found.size() == expected.size();
  for (size_t i = 0; ok && i < found.size(); ++i)
    ok = extentsMatch(found[i], expected[i]);
  if (ok)
    return success();
  return op->emitOpError() << what << ": expected shape "
                           << shapeString(expected) << ", found "
                           << shapeString(found);
}

LogicalResult expectRank(Operation *op, StringRef what, Value v, int64_t rank) {
  int64_t found = tensorType(v).getRank();
  if (found == rank)
    return success();
  return op->emitOpError() << what << ": expected rank " << rank
                           << ", found rank " << found << " "
                           << shapeString(tensorType(v).getShape());
}

int64_t dim(Value v, int64_t i) { return tensorType(v).getDimSize(i); }

LogicalResult expectPositive(Operation *op, StringRef what, int64_t value) {
  if (value > 0)
    return success();
  return op->emitOpError() << what << ": expected a positive value, found "
                           << value;
}

/// A result that keeps the operand's shape.
LogicalResult sameShapeAsOperand(Operation *op, Value x) {
  return expectShape(op, "result", op->getResult(0), tensorType(x).getShape());
}

/// Norm-like ops: x is [.., D] and a per-feature vector is [D].
LogicalResult expectFeatureVector(Operation *op, StringRef what, Value x,
                                  Value vec) {
  return expectShape(op, what, vec, {dim(x, tensorType(x).getRank() - 1)});
}

} // namespace

//===----------------------------------------------------------------------===//
// Model-level ops
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (!getType().hasStaticShape())
    return emitOpError() << "weight '" << getName()
                         << "': expected a static shape, found "
                         << shapeString(getType().getShape());
  return success();
}

LogicalResult EmbedOp::verify() {
  if (failed(expectRank(*this, "tokens", getTokens(), 1)) ||
      failed(expectRank(*this, "table", getTable(), 2)))
    return failure();
  return expectShape(*this, "result", getResult(),
                     {dim(getTokens(), 0), dim(getTable(), 1)});
}

LogicalResult LearnedPositionsOp::verify() {
  if (failed(expectRank(*this, "x", getX(), 2)) ||
      failed(expectShape(*this, "table", getTable(), {kAny, dim(getX(), 1)})))
    return failure();
  int64_t n = dim(getX(), 0), maxSeq = dim(getTable(), 0);
  if (!ShapedType::isDynamic(n) && !ShapedType::isDynamic(maxSeq) && n > maxSeq)
    return emitOpError() << "x: " << n << " tokens exceed the " << maxSeq
                         << " positions of the table";
  return sameShapeAsOperand(*this, getX());
}

LogicalResult SinusoidalPositionsOp::verify() {
  if (failed(expectRank(*this, "x", getX(), 2)))
    return failure();
  return sameShapeAsOperand(*this, getX());
}

LogicalResult LayerNormOp::verify() {
  if (getEps().convertToDouble() <= 0)
    return emitOpError() << "eps: expected a positive value, found "
                         << getEps().convertToDouble();
  if (failed(expectFeatureVector(*this, "gamma", getX(), getGamma())) ||
      failed(expectFeatureVector(*this, "beta", getX(), getBeta())))
    return failure();
  return sameShapeAsOperand(*this, getX());
}

LogicalResult RMSNormOp::verify() {
  if (getEps().convertToDouble() <= 0)
    return emitOpError() << "eps: expected a positive value, found "
                         << getEps().convertToDouble();
  if (failed(expectFeatureVector(*this, "gamma", getX(), getGamma())))
    return failure();
  return sameShapeAsOperand(*this, getX());
}

LogicalResult AttentionOp::verify() {
  int64_t h = getHeads(), hkv = getKvHeads(), k = getHeadDim();
  if (failed(expectPositive(*this, "heads", h)) ||
      failed(expectPositive(*this, "kv_heads", hkv)) ||
      failed(expectPositive(*this, "head_dim", k)))
    return failure();
  if (h % hkv != 0)
    return emitOpError() << "heads (" << h
                         << ") must be a multiple of kv_heads (" << hkv << ")";
  if (getRopeTheta() && k % 2 != 0)
    return emitOpError() << "head_dim: rope rotates pairs of features, so "
                            "expected an even head_dim, found "
                         << k;
  if (failed(expectRank(*this, "x", getX(), 2)))
    return failure();
  int64_t d = dim(getX(), 1);
  Value source = getMemory() ? getMemory() : getX();
  if (getMemory() && failed(expectRank(*this, "memory", source, 2)))
    return failure();
  int64_t dm = dim(source, 1);
  if (getKeyMask()) {
    if (failed(expectRank(*this, "mask", getKeyMask(), 1)))
      return failure();
    int64_t m = dim(source, 0), len = dim(getKeyMask(), 0);
    if (!ShapedType::isDynamic(m) && !ShapedType::isDynamic(len) && m != len)
      return emitOpError() << "mask: expected one entry per key (" << m
                           << "), found " << len;
  }
  if (failed(expectShape(*this, "wq", getWq(), {d, h * k})) ||
      failed(expectShape(*this, "wk", getWk(), {dm, hkv * k})) ||
      failed(expectShape(*this, "wv", getWv(), {dm, hkv * k})) ||
      failed(expectShape(*this, "wo", getWo(), {h * k, d})))
    return failure();
  auto biases = getBiases();
  if (!biases.empty()) {
    if (biases.size() != 4)
      return emitOpError() << "bias: expected 4 vectors (bq, bk, bv, bo), "
                              "found "
                           << biases.size();
    if (failed(expectShape(*this, "bq", biases[0], {h * k})) ||
        failed(expectShape(*this, "bk", biases[1], {hkv * k})) ||
        failed(expectShape(*this, "bv", biases[2], {hkv * k})) ||
        failed(expectShape(*this, "bo", biases[3], {d})))
      return failure();
  }
  return sameShapeAsOperand(*this, getX());
}

LogicalResult MLPOp::verify() {
  if (failed(expectRank(*this, "x", getX(), 2)) ||
      failed(expectRank(*this, "w1", getW1(), 2)))
    return failure();
  int64_t d = dim(getX(), 1), f = dim(getW1(), 1);
  if (failed(expectShape(*this, "w1", getW1(), {d, f})) ||
      failed(expectShape(*this, "w2", getW2(), {f, d})))
    return failure();
  if (getW3() && failed(expectShape(*this, "w3 (gate)", getW3(), {d, f})))
    return failure();
  auto biases = getBiases();
  if (!biases.empty()) {
    size_t want = getW3() ? 3 : 2;
    if (biases.size() != want)
      return emitOpError() << "bias: expected " << want
                           << (getW3() ? " vectors (b1, b2, b3)"
                                       : " vectors (b1, b2)")
                           << ", found " << biases.size();
    if (failed(expectShape(*this, "b1", biases[0], {f})) ||
        failed(expectShape(*this, "b2", biases[1], {d})) ||
        (getW3() && failed(expectShape(*this, "b3", biases[2], {f}))))
      return failure();
  }
  return sameShapeAsOperand(*this, getX());
}

LogicalResult LinearOp::verify() {
  if (failed(expectRank(*this, "x", getX(), 2)) ||
      failed(expectRank(*this, "w", getW(), 2)) ||
      failed(expectShape(*this, "w", getW(), {dim(getX(), 1), kAny})))
    return failure();
  if (getBias() &&
      failed(expectShape(*this, "bias", getBias(), {dim(getW(), 1)})))
    return failure();
  return expectShape(*this, "result", getResult(),
                     {dim(getX(), 0), dim(getW(), 1)});
}

LogicalResult PatchEmbedOp::verify() {
  int64_t p = getPatch();
  if (failed(expectPositive(*this, "patch", p)) ||
      failed(expectRank(*this, "image", getImage(), 3)))
    return failure();
  auto img = tensorType(getImage());
  if (!img.hasStaticShape())
    return emitOpError() << "image: expected a static shape, found "
                         << shapeString(img.getShape());
  int64_t hgt = img.getDimSize(0), wid = img.getDimSize(1),
          c = img.getDimSize(2);
  if (hgt % p != 0 || wid % p != 0)
    return emitOpError() << "image: " << hgt << "x" << wid
                         << " is not divisible into " << p << "x" << p
                         << " patches";
  if (failed(expectRank(*this, "w", getW(), 2)) ||
      failed(expectShape(*this, "w", getW(), {p * p * c, kAny})))
    return failure();
  int64_t d = dim(getW(), 1);
  if (failed(expectShape(*this, "b", getB(), {d})) ||
      failed(expectShape(*this, "cls", getCls(), {d})))
    return failure();
  return expectShape(*this, "result", getResult(),
                     {1 + (hgt / p) * (wid / p), d});
}

LogicalResult LMHeadOp::verify() {
  if (failed(expectRank(*this, "x", getX(), 2)) ||
      failed(expectRank(*this, "w", getW(), 2)))
    return failure();
  int64_t d = dim(getX(), 1);
  int64_t v = getTied() ? dim(getW(), 0) : dim(getW(), 1);
  if (getTied() ? failed(expectShape(*this, "w (tied table)", getW(), {v, d}))
                : failed(expectShape(*this, "w", getW(), {d, v})))
    return failure();
  return expectShape(*this, "result", getResult(), {dim(getX(), 0), v});
}

LogicalResult ClassifierHeadOp::verify() {
  if (failed(expectRank(*this, "x", getX(), 2)) ||
      failed(expectShape(*this, "w", getW(), {dim(getX(), 1), kAny})))
    return failure();
  int64_t c = dim(getW(), 1);
  if (failed(expectShape(*this, "b", getB(), {c})))
    return failure();
  return expectShape(*this, "result", getResult(), {1, c});
}

//===----------------------------------------------------------------------===//
// Primitive ops
//===----------------------------------------------------------------------===//

/// Numpy broadcasting of two shapes; fails with a message naming the axis.
static LogicalResult verifyBroadcast(Operation *op, Value lhs, Value rhs) {
  ArrayRef<int64_t> a = tensorType(lhs).getShape(),
                    b = tensorType(rhs).getShape();
  size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t x = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t y = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (x == 1)
      out[i] = y;
    else if (y == 1)
      out[i] = x;
    else if (extentsMatch(x, y))
      out[i] = ShapedType::isDynamic(x) ? y : x;
    else
      return op->emitOpError()
             << "operands do not broadcast: " << shapeString(a) << " and "
             << shapeString(b) << " differ at axis " << i;
  }
  return expectShape(op, "result", op->getResult(0), out);
}

LogicalResult AddOp::verify() {
  return verifyBroadcast(*this, getLhs(), getRhs());
}
LogicalResult SubOp::verify() {
  return verifyBroadcast(*this, getLhs(), getRhs());
}
LogicalResult MulOp::verify() {
  return verifyBroadcast(*this, getLhs(), getRhs());
}

LogicalResult GatherOp::verify() {
  if (failed(expectRank(*this, "table", getTable(), 2)) ||
      failed(expectRank(*this, "ids", getIds(), 1)))
    return failure();
  return expectShape(*this, "result", getResult(),
                     {dim(getIds(), 0), dim(getTable(), 1)});
}

LogicalResult ArangeOp::verify() {
  // I64Attr getters are unsigned: read them as signed.
  int64_t offset = getOffset();
  if (offset < 0)
    return emitOpError() << "offset: expected a non-negative value, found "
                         << offset;
  if (tensorType(getLike()).getRank() < 1)
    return emitOpError() << "like: expected rank >= 1, found rank 0";
  return expectShape(*this, "result", getResult(), {dim(getLike(), 0)});
}

LogicalResult SinusoidalOp::verify() {
  if (failed(expectRank(*this, "like", getLike(), 2)))
    return failure();
  return sameShapeAsOperand(*this, getLike());
}

LogicalResult MatmulOp::verify() {
  int64_t rank = tensorType(getA()).getRank();
  if (rank != 2 && rank != 3)
    return emitOpError() << "a: expected rank 2 or 3, found rank " << rank;
  if (failed(expectRank(*this, "b", getB(), rank)))
    return failure();
  int64_t o = rank - 2; // offset of the matrix axes
  int64_t m = dim(getA(), o), k = dim(getA(), o + 1);
  int64_t n = getTransposeB() ? dim(getB(), o) : dim(getB(), o + 1);
  int64_t kb = getTransposeB() ? dim(getB(), o + 1) : dim(getB(), o);
  if (!extentsMatch(k, kb))
    return emitOpError() << "contraction extents differ: a is "
                         << shapeString(tensorType(getA()).getShape())
                         << ", b is "
                         << shapeString(tensorType(getB()).getShape())
                         << (getTransposeB() ? " (transposed)" : "");
  if (rank == 3) {
    if (!extentsMatch(dim(getA(), 0), dim(getB(), 0)))
      return emitOpError() << "batch extents differ: " << dim(getA(), 0)
                           << " and " << dim(getB(), 0);
    return expectShape(*this, "result", getResult(), {dim(getA(), 0), m, n});
  }
  return expectShape(*this, "result", getResult(), {m, n});
}

LogicalResult ScaleOp::verify() { return sameShapeAsOperand(*this, getX()); }
LogicalResult ActivationOp::verify() {
  return sameShapeAsOperand(*this, getX());
}

LogicalResult NormalizeOp::verify() {
  if (getEps().convertToDouble() <= 0)
    return emitOpError() << "eps: expected a positive value, found "
                         << getEps().convertToDouble();
  return sameShapeAsOperand(*this, getX());
}

LogicalResult SoftmaxOp::verify() { return sameShapeAsOperand(*this, getX()); }

LogicalResult CausalMaskOp::verify() {
  if (tensorType(getX()).getRank() < 2)
    return emitOpError() << "x: expected rank >= 2 ([.., queries, keys]), "
                            "found rank "
                         << tensorType(getX()).getRank();
  return sameShapeAsOperand(*this, getX());
}

LogicalResult KeyMaskOp::verify() {
  int64_t rank = tensorType(getX()).getRank();
  if (rank < 2)
    return emitOpError() << "x: expected rank >= 2 ([.., queries, keys]), "
                            "found rank "
                         << rank;
  if (failed(expectRank(*this, "mask", getMask(), 1)))
    return failure();
  int64_t m = dim(getX(), rank - 1), len = dim(getMask(), 0);
  if (!ShapedType::isDynamic(m) && !ShapedType::isDynamic(len) && m != len)
    return emitOpError() << "mask: expected one entry per key (" << m
                         << "), found " << len;
  return sameShapeAsOperand(*this, getX());
}

LogicalResult RopeOp::verify() {
  if (failed(expectRank(*this, "x", getX(), 3)))
    return failure();
  int64_t k = dim(getX(), 2);
  if (!ShapedType::isDynamic(k) && k % 2 != 0)
    return emitOpError() << "x: rope rotates pairs of features, so expected "
                            "an even head_dim, found "
                         << k;
  if (getTheta().convertToDouble() <= 0)
    return emitOpError() << "theta: expected a positive value, found "
                         << getTheta().convertToDouble();
  return sameShapeAsOperand(*this, getX());
}

LogicalResult ReshapeOp::verify() {
  auto in = tensorType(getX()), out = tensorType(getResult());
  auto countDynamic = [](RankedTensorType t) {
    return llvm::count_if(t.getShape(), ShapedType::isDynamic);
  };
  if (countDynamic(in) > 1 || countDynamic(out) > 1)
    return emitOpError() << "expected at most one dynamic extent on each "
                            "side, found "
                         << shapeString(in.getShape()) << " -> "
                         << shapeString(out.getShape());
  if (countDynamic(in) != countDynamic(out))
    return emitOpError() << "expected both sides static or both with one "
                            "dynamic extent, found "
                         << shapeString(in.getShape()) << " -> "
                         << shapeString(out.getShape());
  auto staticCount = [](RankedTensorType t) {
    int64_t n = 1;
    for (int64_t d : t.getShape())
      if (!ShapedType::isDynamic(d))
        n *= d;
    return n;
  };
  int64_t a = staticCount(in), b = staticCount(out);
  bool ok = countDynamic(in) == 0 ? a == b : (a % b == 0 || b % a == 0);
  if (!ok)
    return emitOpError() << "element counts differ: "
                         << shapeString(in.getShape()) << " -> "
                         << shapeString(out.getShape());
  return success();
}

LogicalResult TransposeOp::verify() {
  ArrayRef<int64_t> perm = getPerm();
  ArrayRef<int64_t> in = tensorType(getX()).getShape();
  if (perm.size() != in.size())
    return emitOpError() << "perm: expected " << in.size() << " entries, found "
                         << perm.size();
  SmallVector<bool> seen(in.size(), false);
  SmallVector<int64_t> out;
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(in.size()) || seen[p])
      return emitOpError() << "perm: expected a permutation of 0.."
                           << in.size() - 1 << ", found entry " << p;
    seen[p] = true;
    out.push_back(in[p]);
  }
  return expectShape(*this, "result", getResult(), out);
}

LogicalResult RepeatOp::verify() {
  int64_t rank = tensorType(getX()).getRank(), axis = getAxis();
  if (axis < 0 || axis >= rank)
    return emitOpError() << "axis: expected 0.." << rank - 1 << ", found "
                         << axis;
  if (failed(expectPositive(*this, "times", getTimes())))
    return failure();
  SmallVector<int64_t> out(tensorType(getX()).getShape());
  if (!ShapedType::isDynamic(out[axis]))
    out[axis] *= getTimes();
  return expectShape(*this, "result", getResult(), out);
}

LogicalResult PatchifyOp::verify() {
  int64_t p = getPatch();
  if (failed(expectPositive(*this, "patch", p)) ||
      failed(expectRank(*this, "image", getImage(), 3)))
    return failure();
  auto img = tensorType(getImage());
  if (!img.hasStaticShape())
    return emitOpError() << "image: expected a static shape, found "
                         << shapeString(img.getShape());
  int64_t hgt = img.getDimSize(0), wid = img.getDimSize(1),
          c = img.getDimSize(2);
  if (hgt % p != 0 || wid % p != 0)
    return emitOpError() << "image: " << hgt << "x" << wid
                         << " is not divisible into " << p << "x" << p
                         << " patches";
  return expectShape(*this, "result", getResult(),
                     {(hgt / p) * (wid / p), p * p * c});
}

LogicalResult ConcatOp::verify() {
  ArrayRef<int64_t> a = tensorType(getLhs()).getShape(),
                    b = tensorType(getRhs()).getShape();
  int64_t axis = getAxis();
  if (a.size() != b.size())
    return emitOpError() << "operands differ in rank: " << shapeString(a)
                         << " and " << shapeString(b);
  if (axis < 0 || axis >= static_cast<int64_t>(a.size()))
    return emitOpError() << "axis: expected 0.." << a.size() - 1 << ", found "
                         << axis;
  SmallVector<int64_t> out(a);
  for (size_t i = 0; i < a.size(); ++i) {
    if (static_cast<int64_t>(i) == axis)
      out[i] = ShapedType::isDynamic(a[i]) || ShapedType::isDynamic(b[i])
                   ? kAny
                   : a[i] + b[i];
    else if (!extentsMatch(a[i], b[i]))
      return emitOpError() << "operands differ at axis " << i << ": "
                           << shapeString(a) << " and " << shapeString(b);
  }
  return expectShape(*this, "result", getResult(), out);
}

LogicalResult ReduceMeanOp::verify() {
  int64_t rank = tensorType(getX()).getRank(), axis = getAxis();
  if (axis < 0 || axis >= rank)
    return emitOpError() << "axis: expected 0.." << rank - 1 << ", found "
                         << axis;
  SmallVector<int64_t> out(tensorType(getX()).getShape());
  out[axis] = 1;
  return expectShape(*this, "result", getResult(), out);
}

LogicalResult SliceOp::verify() {
  int64_t rank = tensorType(getX()).getRank(), axis = getAxis();
  if (axis < 0 || axis >= rank)
    return emitOpError() << "axis: expected 0.." << rank - 1 << ", found "
                         << axis;
  int64_t start = getStart(), size = getSize();
  if (start < 0 || size < 1)
    return emitOpError() << "expected start >= 0 and size >= 1, found start "
                         << start << ", size " << size;
  int64_t extent = dim(getX(), axis);
  if (!ShapedType::isDynamic(extent) && start + size > extent)
    return emitOpError() << "range [" << start << ", " << start + size
                         << ") exceeds extent " << extent << " of axis "
                         << axis;
  SmallVector<int64_t> out(tensorType(getX()).getShape());
  out[axis] = size;
  return expectShape(*this, "result", getResult(), out);
}

//===----------------------------------------------------------------------===//
// Kernels
//===----------------------------------------------------------------------===//

LogicalResult KernelOp::verify() {
  Block &body = getBody().front();
  if (body.getNumArguments() != getInputs().size())
    return emitOpError() << "body: expected " << getInputs().size()
                         << " block arguments (one per input), found "
                         << body.getNumArguments();
  for (auto [i, pair] :
       llvm::enumerate(llvm::zip(getInputs(), body.getArguments())))
    if (std::get<0>(pair).getType() != std::get<1>(pair).getType())
      return emitOpError() << "body: block argument " << i
                           << " has another type than input " << i;
  auto yield = cast<YieldOp>(body.getTerminator());
  if (yield.getValues().size() != getResults().size())
    return emitOpError() << "body: yields " << yield.getValues().size()
                         << " values for " << getResults().size() << " results";
  for (auto [i, pair] :
       llvm::enumerate(llvm::zip(yield.getValues(), getResults())))
    if (std::get<0>(pair).getType() != std::get<1>(pair).getType())
      return emitOpError() << "body: yielded value " << i
                           << " has another type than result " << i;
  return success();
}
