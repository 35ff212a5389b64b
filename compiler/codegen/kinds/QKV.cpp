//===- QKV.cpp - Norm, Q/K/V projections, RoPE ------------------------------===//
//
// The norm prologue, the query, key and value projections (or a
// cross-attention's part of them) and rotary positions.
//
//===----------------------------------------------------------------------===//
#include "codegen/KernelBuilder.h"

namespace tfc {
namespace kernels {

BuiltKernel KernelBuilder::qkv() {
  int64_t D = d.d, H = d.heads, G = d.kvHeads, K = d.headDim;
  ImageParam x = rowsParam("x", D);
  std::optional<ImageParam> gamma, beta;
  normParams(gamma, beta, D);
  // Cross-attention builds the queries alone, or the keys and values alone
  // (KernelDesc.h): only those arguments exist.
  bool wantQ = d.parts != QKVParts::KV, wantKV = d.parts != QKVParts::Q;
  std::optional<Matrix> wq, wk, wv;
  if (wantQ)
    wq = matrix("wq", D, H * K);
  if (wantKV) {
    wk = matrix("wk", D, G * K);
    wv = matrix("wv", D, G * K);
  }
  std::optional<ImageParam> bq, bk, bv;
  if (d.bias && wantQ)
    bq = vectorParam("bq", H * K);
  if (d.bias && wantKV) {
    bk = vectorParam("bk", G * K);
    bv = vectorParam("bv", G * K);
  }
  Expr position = positionParam() + n;
  Func xn = d.norm == KernelNorm::None ? wrap(x, "xin")
                                       : normRows(x, D, *gamma, beta, "xn");

  // RoPE tables: angle = (pos + n) * theta^(-2i/K), in double (see
  // embed()). Computed over the N rows of the call only.
  Var i("i");
  Func cosT("rope_cos"), sinT("rope_sin");
  if (d.rope) {
    Expr invFreq =
        Halide::exp(cast<double>(i) * Expr(-2.0 * std::log(d.ropeTheta) /
                                           static_cast<double>(K)));
    Expr angle = cast<double>(position) * invFreq;
    cosT(i, n) = cast<float>(Halide::cos(angle));
    sinT(i, n) = cast<float>(Halide::sin(angle));
  }

  struct Part {
    Func out, pre;
    Product prod;
    int64_t width;
  };
  auto project = [&](const std::string &name, const Matrix &w,
                     const std::optional<ImageParam> &b, int64_t width,
                     bool rotate) {
    Part p;
    p.width = width;
    p.prod = product(name + "_prod", xn, D, w, b ? (*b)(c) : Expr(0.0f));
    p.out = Func(name);
    if (!rotate) {
      p.out(c, n) = p.prod.value;
      return p;
    }
    // Rotate-half within each head: feature ii of head base pairs with
    // base + (ii + K/2) % K; the lower half subtracts, the upper adds.
    p.pre = Func(name + "_pre");
    p.pre(c, n) = p.prod.value;
    Expr ii = c % static_cast<int>(K);
    Expr half = static_cast<int>(K / 2);
    Expr base = (c / static_cast<int>(K)) * static_cast<int>(K);
    Expr partner = base + (ii + half) % static_cast<int>(K);
    Expr j = ii % half;
    Expr sign = select(ii < half, -1.0f, 1.0f);
    p.out(c, n) =
        p.pre(c, n) * cosT(j, n) + sign * p.pre(partner, n) * sinT(j, n);
    return p;
  };
  std::vector<Part> parts;
  if (wantQ)
    parts.push_back(project("q", *wq, bq, H * K, d.rope));
  if (wantKV) {
    parts.push_back(project("k", *wk, bk, G * K, d.rope));
    parts.push_back(project("v", *wv, bv, G * K, false));
  }
  for (Part &p : parts)
    constrainOutput(p.out, p.width);

  // Schedule: the norm once per row at root, shared by the three products.
  if (d.norm != KernelNorm::None)
    scheduleNormPrologue(xn, D);
  for (Part &p : parts) {
    if (p.pre.defined()) {
      p.pre.compute_root();
      tileProducts(p.pre, p.width, {p.prod});
      rowwise(p.out, p.width);
    } else {
      tileProducts(p.out, p.width, {p.prod});
    }
  }
  scheduleTable(cosT, K / 2);
  scheduleTable(sinT, K / 2);
  std::vector<Func> outs;
  for (Part &p : parts)
    outs.push_back(p.out);
  return finish(outs);
}

} // namespace kernels
} // namespace tfc
