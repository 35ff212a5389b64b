//===- Head.cpp - Final norm + vocabulary head ------------------------------===//
//
// The final norm and the projection to the vocabulary, untied or tied to
// the token embedding.
//
//===----------------------------------------------------------------------===//
#include "codegen/KernelBuilder.h"

namespace tfc {
namespace kernels {

BuiltKernel KernelBuilder::head() {
  int64_t D = d.d, V = d.vocab;
  ImageParam x = rowsParam("x", D);
  std::optional<ImageParam> gamma, beta;
  normParams(gamma, beta, D);
  Func xn = d.norm == KernelNorm::None ? wrap(x, "xin")
                                       : normRows(x, D, *gamma, beta, "xn");
  Func logits("logits");
  // logits = xn w through the shared matrix product and its schedules.
  auto viaProduct = [&](const Matrix &w) {
    Product prod = product("prod", xn, D, w, Expr(0.0f));
    logits(c, n) = prod.value;
    constrainOutput(logits, V);
    if (d.norm != KernelNorm::None)
      scheduleNormPrologue(xn, D);
    tileProducts(logits, V, {prod});
    return finish({logits});
  };
  if (!d.tied)
    return viaProduct(matrix("w", D, V));
  // Tied: w is the token embedding [V, D]; each logit is a dot product of
  // two contiguous rows. Lanes accumulate strided slices (partial), then add
  // up, so both operands load as dense vectors.
  ImageParam w = matrixParam("w", V, D);
  if (gpu) {
    // The GPU's products read the embedding transposed.
    Matrix m;
    m.data = w;
    m.cols = V;
    m.transposed = true;
    return viaProduct(m);
  }
  int lanes = dividingWidth(D, vec);
  Var u("u");
  RDom r(0, static_cast<int>(D / lanes), "r");
  Func partial("partial");
  partial(u, c, n) = 0.0f;
  partial(u, c, n) += xn(r * lanes + u, n) * w(r * lanes + u, c);
  RDom ru(0, lanes, "ru");
  Func sum("dot");
  sum(c, n) = 0.0f;
  sum(c, n) += partial(ru, c, n);
  logits(c, n) = sum(c, n);
  constrainOutput(logits, V);

  if (d.norm != KernelNorm::None)
    scheduleNormPrologue(xn, D);
  int tc = static_cast<int>(std::min<int64_t>(6, V)), tn = 4;
  Var co("co"), ci("ci"), no("no"), ni("ni");
  logits.split(c, co, ci, tc, TailStrategy::ShiftInwards)
      .split(n, no, ni, tn, TailStrategy::GuardWithIf)
      .reorder(ci, ni, no, co)
      .parallel(co);
  sum.compute_at(logits, no);
  partial.compute_at(logits, no).unroll(c).unroll(n);
  partial.update().reorder(u, c, n, r.x).unroll(c).unroll(n);
  if (lanes > 1) {
    partial.vectorize(u);
    partial.update().vectorize(u);
  }
  return finish({logits});
}

} // namespace kernels
} // namespace tfc
